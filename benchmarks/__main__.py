"""Entry point: `python -m benchmarks [--only sanctions] [--sanctions-entries 20000] [--names 200]`."""

import argparse
import os
import sys

BENCHMARKS = ("sanctions",)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", choices=BENCHMARKS, action="append", help="run only this benchmark (repeatable)")
    parser.add_argument("--sanctions-entries", type=int, default=20_000, help="entries of the synthetic sanctions list")
    parser.add_argument("--names", type=int, default=200, help="names screened against the list")
    parser.add_argument("--seed", type=int, default=20200320, help="seed of the synthetic data")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()

    ok = True
    for name in args.only or BENCHMARKS:
        if name == "sanctions":
            from benchmarks import sanctions

            ok &= sanctions.run(entries=args.sanctions_entries, names=args.names, seed=args.seed)["ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
