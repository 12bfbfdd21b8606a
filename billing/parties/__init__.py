"""The two operators and their wholesale customers: the parties every other package refers to."""
