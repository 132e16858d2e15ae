"""Starter designs shipped with designkit (``templates/*.yaml``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from designkit.errors import TemplateNotFoundError
from designkit.model.design import Design

__all__ = ["template", "template_path", "template_text", "templates"]


def _folder() -> Path:
    """The templates folder: inside the installed wheel, else the checkout's ``templates/``."""
    packaged = Path(str(resources.files("designkit"))) / "_templates"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / "templates"
    if checkout.is_dir():
        return checkout
    raise TemplateNotFoundError(  # pragma: no cover - a broken install
        "designkit's templates are missing from this installation; reinstall designkit")


def templates() -> dict[str, str]:
    """Template names with their one-line description (the file's first comment line).

    Example:
        >>> import designkit as dk
        >>> "flash-sale" in dk.templates()
        True
    """
    out = {}
    for path in sorted(_folder().glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0] if path.stat().st_size else ""
        out[path.stem] = first.lstrip("# ").strip()
    return out


def template_path(name: str) -> Path:
    """The file of template ``name``.

    Raises:
        TemplateNotFoundError: No such template (the message lists the nearest names).

    Example:
        >>> import designkit as dk
        >>> dk.template_path("flash-sale").name
        'flash-sale.yaml'
    """
    path = _folder() / f"{name}.yaml"
    if name not in templates():  # a name from the catalogue, never a path
        from designkit.model.problems import nearest

        names = list(templates())
        hint = nearest(name, names)
        raise TemplateNotFoundError(
            f"no template named {name!r}; "
            + (f"did you mean {', '.join(map(repr, hint))}? " if hint else "")
            + f"templates: {', '.join(names)}")
    return path


def template_text(name: str) -> str:
    """The YAML text of template ``name``, comments included.

    Example:
        >>> import designkit as dk
        >>> dk.template_text("flash-sale").startswith("#")
        True
    """
    return template_path(name).read_text(encoding="utf-8")


def template(name: str) -> Design:
    """Template ``name`` loaded as a design.

    Example:
        >>> import designkit as dk
        >>> dk.template("flash-sale").name
        'flash-sale'
    """
    from designkit.model.io import load

    return load(template_path(name))
