"""The built-in digits data, its experiments and recipes, the demo report."""
