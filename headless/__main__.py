"""``python -m headless dataset ...`` (run from the pack's folder): see ``headless.dataset.cli``."""
import sys

USAGE = "usage: python -m headless dataset INPUT OUTPUT [options]   (python -m headless dataset --help)"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != "dataset":
        print(USAGE, file=sys.stderr)
        return 2
    from .dataset.cli import main as dataset_main

    return dataset_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
