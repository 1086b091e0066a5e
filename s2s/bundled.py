"""The recipes shipped inside the package (`s2s/recipes/*.yaml`): found by name, so `s2s train transformer` works
from any directory, and summarised by their header's first sentence for `s2s list`."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from s2s.errors import S2SError


def bundled_recipes() -> dict[str, Path]:
    """The recipes shipped inside the package (`s2s/recipes/*.yaml`) by name, so they work from any directory."""
    folder = Path(str(resources.files("s2s").joinpath("recipes")))
    return dict(sorted((path.stem, path) for path in folder.glob("*.yaml")))


def find_recipe(given: str) -> Path:
    """The recipe file that `s2s train GIVEN` means: an existing file wins; otherwise a bare name (`transformer`
    or `transformer.yaml`) is looked up among the bundled recipes; otherwise one line listing them."""
    path = Path(given).expanduser()
    if path.is_file():
        return path
    bundled = bundled_recipes()
    name = given[: -len(".yaml")] if given.endswith(".yaml") else given
    if Path(given).name == given and name in bundled:  # a bare name, with no directory part
        return bundled[name]
    names = ", ".join(bundled)
    if path.is_dir():
        raise S2SError(f"{given}: is a directory, not a recipe file; give a .yaml file or the name of a bundled "
                       f"recipe (bundled: {names})")
    raise S2SError(f"no recipe {given!r}: not a file, and not a bundled recipe (bundled: {names})")


def recipe_summary(path: Path) -> str:
    """The first sentence of a recipe's header comment, less its `name:` lead: what `s2s list` says of it."""
    header = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        header.append(line.lstrip("#").strip())
    text = " ".join(header)
    lead = f"{Path(path).stem}:"
    text = text[len(lead):].strip() if text.startswith(lead) else text
    end = re.search(r"\.(\s+[A-Z]|$)", text)  # '. A' ends a sentence; 'et al. 2015' and '2.0' do not
    return text[: end.start() + 1] if end else text
