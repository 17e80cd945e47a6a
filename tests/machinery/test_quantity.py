"""Resource quantities: exact parsing and Kubernetes' canonical text."""

from decimal import Decimal

import pytest

from hyperkube.machinery.quantity import Quantity, QuantityError, parse_quantity


@pytest.mark.parametrize("text, canonical, milli", [
    ("100m", "100m", 100),
    ("1Gi", "1Gi", 1073741824000),
    ("2", "2", 2000),
    ("1e3", "1e3", 1000000),
    ("1E3", "1e3", 1000000),
    ("1.5", "1500m", 1500),
    ("1000m", "1", 1000),
    ("1000", "1k", 1000000),
    ("1.5Gi", "1536Mi", 1610612736000),
    ("1024Ki", "1Mi", 1048576000),
    ("128Mi", "128Mi", 134217728000),
    ("0.5n", "1n", 1),  # rounded up to nano units
    ("-1", "-1", -1000),
    ("0", "0", 0),
    (".5", "500m", 500),
    (2, "2", 2000),
    (0.25, "250m", 250),
])
def test_parse_and_format(text, canonical, milli):
    quantity = parse_quantity(text)
    assert str(quantity) == canonical
    assert quantity.milli() == milli
    assert str(parse_quantity(canonical)) == canonical


@pytest.mark.parametrize("text", ["", "abc", "1Gb", "1.2.3", "1e", "--1", "1 Gi", True])
def test_invalid_quantities(text):
    with pytest.raises(QuantityError) as raised:
        parse_quantity(text)
    assert "quantities must match the regular expression" in str(raised.value)


def test_arithmetic_and_comparison():
    assert parse_quantity("1Gi") > parse_quantity("1G")
    assert str(parse_quantity("100m") + parse_quantity("1")) == "1100m"
    assert str(parse_quantity("1Gi") - parse_quantity("512Mi")) == "512Mi"
    assert Quantity("1Gi") == "1024Mi"
    assert parse_quantity("1500m").integer() == 2
    assert parse_quantity("3").value == Decimal(3)
    assert sorted([parse_quantity("1"), parse_quantity("10m"), parse_quantity("1k")])[0] == "10m"
