"""``python -m headless dataset ...`` (dataset jobs, ``headless.dataset.cli``) and ``python -m headless demo ...``
(the main job as a contact sheet, ``headless.demo``), run from the pack's folder."""
import sys

USAGE = ("usage: python -m headless dataset INPUT OUTPUT [options]   (python -m headless dataset --help)\n"
         "       python -m headless demo [options]                   (python -m headless demo --help)")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "dataset":
        from .dataset.cli import main as dataset_main

        return dataset_main(argv[1:])
    if argv and argv[0] == "demo":
        from .demo import run

        return run(argv[1:])
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
