"""The union's organisation tree: units at configurable levels, and tenant resolution."""
