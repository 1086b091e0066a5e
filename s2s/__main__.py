"""`python -m s2s` is the same as the `s2s` console script (and what `torchrun -m s2s` starts)."""

from s2s.cli import main

if __name__ == "__main__":
    main()
