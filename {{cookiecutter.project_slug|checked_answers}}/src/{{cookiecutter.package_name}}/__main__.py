"""`python -m {{ cookiecutter.package_name }}`: the command line of every pipeline step."""

from .cli import main

main()
