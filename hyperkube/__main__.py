"""``python -m hyperkube``: the same dispatcher as the console script."""

from hyperkube.cli.main import main

if __name__ == "__main__":
    main()
