"""The online serving layer ({{ cookiecutter.serving }}) over the shared prediction core."""
