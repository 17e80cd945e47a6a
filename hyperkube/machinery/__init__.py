"""Small pure core shared by every layer: meta helpers, selectors, errors, quantities, JSON."""
