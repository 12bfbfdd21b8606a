"""marshmallow fields on the platform's one set of field rules (billing/validation.py).

Every API schema takes text, integers, decimals and dates through these, so the API refuses
exactly what the forms refuse, with the same words, and the OpenAPI document states the bounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields, validate

from billing.validation import (
    InvalidValueError,
    clean_text,
    parse_date,
    parse_decimal,
    parse_integer,
)


class Text(fields.String):
    """Text without NUL, lone surrogates or control characters, at most `max_length` long."""

    def __init__(self, *, max_length: int, multiline: bool = False, **kwargs: Any) -> None:
        extra = kwargs.pop("validate", None)
        validators = [validate.Length(max=max_length)]  # states maxLength in the document
        if extra is not None:
            validators.extend(extra if isinstance(extra, list) else [extra])
        super().__init__(validate=validators, **kwargs)
        self.max_length = max_length
        self.multiline = multiline

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        try:
            return clean_text(value, max_length=self.max_length, multiline=self.multiline)
        except InvalidValueError as error:
            raise ValidationError(str(error)) from None


class WholeNumber(fields.Integer):
    """An integer that must be one: 12.9 is refused, never truncated to 12."""

    def __init__(
        self, *, minimum: int | None = None, maximum: int | None = None, **kwargs: Any
    ) -> None:
        validators = kwargs.pop("validate", None) or []
        if minimum is not None or maximum is not None:
            validators = [validate.Range(min=minimum, max=maximum), *validators]
        super().__init__(strict=True, validate=validators, **kwargs)
        self.minimum = minimum
        self.maximum = maximum

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int:
        try:
            return parse_integer(value, minimum=self.minimum, maximum=self.maximum)
        except InvalidValueError as error:
            raise ValidationError(str(error)) from None


class DecimalNumber(fields.Decimal):
    """A finite decimal that fits its column; sent and received as a string or a number."""

    def __init__(
        self,
        *,
        places: int,
        max_digits: int,
        minimum: Decimal | None = None,
        maximum: Decimal | None = None,
        **kwargs: Any,
    ) -> None:
        metadata = dict(kwargs.pop("metadata", None) or {})
        # apispec would write Decimal bounds as strings, which OpenAPI refuses: state them here.
        if minimum is not None:
            metadata.setdefault("minimum", float(minimum))
        if maximum is not None:
            metadata.setdefault("maximum", float(maximum))
        super().__init__(places=places, metadata=metadata, **kwargs)
        self.decimal_places = places
        self.max_digits = max_digits
        self.minimum = minimum
        self.maximum = maximum

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Decimal:
        try:
            return parse_decimal(
                value,
                places=self.decimal_places,
                max_digits=self.max_digits,
                minimum=self.minimum,
                maximum=self.maximum,
            )
        except InvalidValueError as error:
            raise ValidationError(str(error)) from None


class IsoDate(fields.Date):
    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Any:
        try:
            return parse_date(value)
        except InvalidValueError as error:
            raise ValidationError(str(error)) from None
