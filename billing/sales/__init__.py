"""Customers, the price book, quotes, contracts and services."""
