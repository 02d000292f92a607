"""The YAML recipes, installed as the package `official_ext.recipes` (setup.py
package_dir), so `importlib.resources` finds them from a wheel install too."""
