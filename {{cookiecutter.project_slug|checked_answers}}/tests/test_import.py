"""The package imports and knows its version."""

import {{ cookiecutter.package_name }}


def test_package_imports_with_version() -> None:
    assert {{ cookiecutter.package_name }}.__version__
