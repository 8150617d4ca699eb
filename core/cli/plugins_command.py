"""``ftplug plugins list|info|new``: what is installed, what each component accepts, and a new plugin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypedDict

import click

KIND_CHOICES = ("loader", "prompt-builder", "trainer", "scorer")


class _PluginEntry(TypedDict):
    """One plugin as ``ftplug plugins list`` shows it (``--json``: one object of the list)."""

    name: str
    version: str
    source: str
    location: str | None
    status: str
    error: str | None
    hooks: list[str]
    components: dict[str, list[str]]


@click.group()
def plugins() -> None:
    """Inspect installed plugins, or start a new one."""


@plugins.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also the plugins disabled by FTPLUG_DISABLE_PLUGINS or "
                                                      "left out by FTPLUG_LOAD_PLUGINS.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_list(show_all: bool, as_json: bool) -> None:
    """Every plugin: version, source, status (active, failed with the reason, disabled), the components it
    contributes per kind and the hooks it implements."""
    from ftplug.pluginhost.manager import get_plugins

    loaded = get_plugins()
    entries: list[_PluginEntry] = []
    for info in loaded.infos.values():
        if info.status == "disabled" and not show_all:
            continue
        components = {kind.value: names for kind, names in loaded.registry.by_plugin(info.name).items() if names}
        entries.append({"name": info.name, "version": info.version, "source": info.source,
                        "location": info.location, "status": info.status, "error": info.error,
                        "hooks": info.hooks, "components": components})
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    for entry in entries:
        status = {"active": "active", "failed": f"FAILED: {entry['error']}",
                  "disabled": f"disabled ({entry['error']})"}[entry["status"]]
        click.echo(f"{entry['name']} {entry['version']} ({entry['source']}) {status}")
        for kind, names in entry["components"].items():
            click.echo(f"    {kind}: {', '.join(names)}")
        other_hooks = [h for h in entry["hooks"] if not h.startswith("ftplug_register_")]
        if other_hooks:
            click.echo(f"    hooks: {', '.join(other_hooks)}")


@plugins.command("info")
@click.argument("name")
def plugins_info(name: str) -> None:
    """A plugin's components, or one component: its description, options (type, default, help) and an
    example of its use in an experiment file. NAME is a plugin or a component name."""
    from ftplug.components import Kind
    from ftplug.pluginhost.manager import get_plugins

    loaded = get_plugins()
    info = loaded.infos.get(name)
    components = [c for kind in Kind for c in loaded.registry.by_kind(kind)
                  if c.name == name or (info is not None and c.plugin == name)]
    if info is None and not components:
        known = sorted({*loaded.infos, *(c.name for kind in Kind for c in loaded.registry.by_kind(kind))})
        raise click.BadParameter(f"no plugin or component {name!r} (known: {', '.join(known)})",
                                 param_hint="NAME")
    if info is not None:
        location = f", {info.location}" if info.location else ""
        status = info.status if info.status == "active" else f"{info.status}: {info.error}"
        click.echo(f"plugin {info.name} {info.version} ({info.source}{location}) {status}")
        if info.hooks:
            click.echo(f"hooks: {', '.join(info.hooks)}")
    for component in components:
        click.echo("")
        click.echo(_describe(component))


def _describe(component: Any) -> str:
    """A component's page: description, options and an example snippet."""
    lines = [f"{component.kind.value} {component.name!r} (plugin {component.plugin})"]
    if component.description:
        lines.append(f"  {component.description}")
    if component.options:
        lines.append("  options:")
        for option in component.options:
            types = option.type if isinstance(option.type, tuple) else (option.type,)
            default = "required" if option.required else f"default {option.default!r}"
            choices = f"; one of {', '.join(map(repr, option.choices))}" if option.choices else ""
            if option.within is not None:
                choices += f"; {option.within[0]:,} to {option.within[1]:,}"
            lines.append(f"    {option.name} ({' | '.join(t.__name__ for t in types)}; {default}{choices})"
                         f"{' — ' + option.help if option.help else ''}")
    else:
        lines.append("  options: none")
    lines.append("  example:")
    lines.extend(f"    {line}" for line in _example(component).splitlines())
    return "\n".join(lines)


def _example(component: Any) -> str:
    """TOML using the component, with its required options and the first few others at their defaults."""
    shown = [o for o in component.options if o.required] + [o for o in component.options if not o.required][:2]
    values = {o.name: (_placeholder(o) if o.required else o.default) for o in shown}

    def inline(table: dict[str, Any]) -> str:
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in table.items()) + " }"

    kind = component.kind.value
    if kind == "loader":
        return "[data]\n" + "\n".join(f"{k} = {_toml(v)}" for k, v in {"loader": component.name, **values}.items())
    if kind == "scorer":
        entry = inline({"name": component.name, **values}) if values else _toml(component.name)
        return f"[scoring]\nscorers = [{entry}]"
    key = "builder" if kind == "prompt-builder" else "name"
    field = "prompt" if kind == "prompt-builder" else "trainer"
    return f'[[variants]]\nname = "my-variant"\n{field} = {inline({key: component.name, **values})}'


def _placeholder(option: Any) -> Any:
    types = option.type if isinstance(option.type, tuple) else (option.type,)
    if option.choices:
        return option.choices[0]
    return {int: 1, float: 1.0, bool: True, list: [], dict: {}}.get(types[0], "...")


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return repr(value)


@plugins.command("new")
@click.argument("name")
@click.option("--kind", type=click.Choice(KIND_CHOICES), default="scorer", show_default=True,
              help="The kind of the example component.")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Where to create the package's folder.")
def plugins_new(name: str, kind: str, directory: Path) -> None:
    """Create an installable plugin package NAME: setup.cfg with the `ftplug` entry point, a module with a
    working example component of KIND, tests using ftplug's pytest plugin, and a README. Then:
    pip install -e DIR/NAME && pytest DIR/NAME"""
    from ftplug.cli.scaffold import create_package

    folder = create_package(name, kind, directory)
    click.echo(f"created {folder}")
    click.echo(f"next: pip install -e {folder} && pytest {folder}")
