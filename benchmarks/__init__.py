"""`make bench` / `python -m benchmarks`: performance figures of DESIGN.md §8, each with a baseline measured in the
same run, so that the ratios hold from one machine to another."""
