"""Command line: thin commands over `pipeline`; user errors become clean messages and exit codes."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click

from bagu2anki import __version__
from bagu2anki.config import Config, apply_settings, load_settings
from bagu2anki.diagnostics import Diagnostics, UserError, counted
from bagu2anki.write.staging import STAGING_NAME

F = TypeVar("F", bound=Callable[..., Any])


def paths_argument(f: F) -> F:
    return click.argument("paths", nargs=-1, type=click.Path(path_type=Path))(f)


def common_options(f: F) -> F:
    f = click.option("--lock", type=click.Path(path_type=Path), default=None,
                     help="Lock file keeping note identities (default: bagu2anki.lock beside the notes folder).")(f)
    f = click.option("--catalogue", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
                     help="Extra concept catalogue (YAML or TOML); default: concepts.yaml in the notes folder.")(f)
    return f


def split_option(f: F) -> F:
    return click.option(
        "--no-split", "split", flag_value=False, default=None,
        help="Keep a question that asks several things as one card (default: one card per part when its answer has a part for each).",
    )(f)


def _config(ctx: click.Context, paths: tuple[Path, ...], **kwargs: Any) -> Config:
    explicit = {k for k, v in kwargs.items() if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE}
    cfg = Config(paths=paths or (Path("notes"),), **{k: v for k, v in kwargs.items() if v is not None})
    cfg = apply_settings(cfg, load_settings(Path.cwd()), explicit)
    for p in cfg.paths:
        if not p.exists():
            raise click.UsageError(f"no such file or folder: {p}")
    return cfg


def _from_cwd(path: str, roots: tuple[Path, ...]) -> str:
    """A diagnostic's path (relative to its notes folder) as seen from the working folder, as
    GitHub wants it for annotations: `notes/agent/agent.md` rather than `agent/agent.md`."""
    for root in roots:
        candidate = (root if root.is_dir() else root.parent) / path
        if candidate.exists():
            here, there = Path.cwd(), candidate.absolute()
            inside = there.is_relative_to(here)
            return (Path(os.path.relpath(there, here)) if inside else there).as_posix()
    return path


def _print_diagnostics(diags: Diagnostics, fmt: str, verbose: bool = False, roots: tuple[Path, ...] = ()) -> None:
    """Every diagnostic with `-v`; otherwise no informational notes, and repeated warnings of one
    kind in one file (a folder of missing images) as one line with a count, so that the rare
    kinds stay visible."""
    shown = [d for d in diags.sorted() if verbose or d.severity != "info"]
    repeats: Counter[tuple[str, str, str]] = Counter((d.path, d.code, d.severity) for d in shown if d.code)
    told: set[tuple[str, str, str]] = set()
    for d in shown:
        key = (d.path, d.code, d.severity)
        more = repeats[key] - 1 if d.code and not verbose else 0
        if more > 0:
            if key in told:
                continue
            told.add(key)
            d = replace(d, message=f"{d.message} (and {counted(more, 'more line')} like it in this file: -v lists each)")
        line = d.format_github(_from_cwd(d.path, roots)) if fmt == "github" else d.format()
        click.echo(line, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bagu2anki")
def main() -> None:
    """Turn Chinese interview notes (八股) into an Anki deck and an offline concept map."""
    # `kill` (SIGTERM) unwinds like Ctrl-C: half-written outputs and temporary files are removed
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminated)


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@main.command()
@paths_argument
@click.option("-o", "--out", type=click.Path(path_type=Path), default=None, help="Output folder (default: out/).")
@click.option("--deck", default=None, help="Root deck name (default: the notes folder's name).")
@click.option("--include-unanswered", is_flag=True, default=None, help="Add unanswered questions, tagged 待补充.")
@click.option("--concept-cards", "concept_cards", type=click.Choice(["all", "used", "none"]), default=None,
              help="Cards that ask what a concept is: for every concept the notes use (all), for those two or more questions use (used, the default), or none.")
@click.option("--no-concept-cards", "concept_cards", flag_value="none", help="Same as --concept-cards none.")
@click.option("--flat", "flat_decks", is_flag=True, default=None,
              help="One deck for everything (sections stay as tags): new cards then follow prerequisite order under Anki's default options.")
@click.option("--strict", is_flag=True, default=False, help="Fail (exit 1) on warnings too.")
@click.option("--no-cache", is_flag=True, default=False, help="Force a cold build (ignore the build cache).")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=0,
              help="Processes that render answers in parallel (default 0: one per CPU core).")
@click.option("--fold-threshold", type=click.IntRange(min=100), default=None,
              help="Answers longer than this many visible characters open with a summary and fold the rest (default 1000).")
@click.option("-v", "--verbose", is_flag=True, help="Also print informational notes.")
@common_options
@split_option
@click.pass_context
def build(ctx: click.Context, paths: tuple[Path, ...], out: Path | None, deck: str | None,
          include_unanswered: bool | None, concept_cards: str | None, flat_decks: bool | None, strict: bool, no_cache: bool,
          jobs: int, fold_threshold: int | None, verbose: bool, lock: Path | None,
          catalogue: Path | None, split: bool | None) -> None:
    """Build OUT/<deck>.apkg, OUT/graph.html and OUT/report.md from the notes (default: notes/)."""
    from bagu2anki.stamp import unchanged

    cfg = _config(ctx, paths, out=out, deck=deck, include_unanswered=include_unanswered,
                  concept_cards=concept_cards, flat_decks=flat_decks, fold_threshold=fold_threshold, lock=lock, catalogue=catalogue,
                  split=split)
    cfg = replace(cfg, strict=strict, use_cache=not no_cache, jobs=jobs)
    bar_state: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if total < 200 or not sys.stderr.isatty():
            return
        bar = bar_state.get(stage)
        if bar is None:
            bar = click.progressbar(length=total, label=stage, file=sys.stderr)
            bar.__enter__()
            bar_state[stage] = bar
        bar.update(max(0, done - bar.pos))
        if done >= total:
            bar.__exit__(None, None, None)

    # nothing changed since the last build: its outputs stand, and it is told as it was
    said = unchanged(cfg) if cfg.use_cache else None
    if said is None:
        from bagu2anki.pipeline import build as run_build

        try:
            said = run_build(cfg, progress).summary()
        except OSError as e:  # an output that cannot be written (read-only folder, a full disk)
            where = str(e.filename2 or e.filename or cfg.out)
            if STAGING_NAME in where:  # a file on its way into the output folder
                where = str(cfg.out)
            raise UserError(
                f"{where}: cannot write the build output ({e.strerror or e}); the previous outputs and "
                "the lock file are as they were"
            ) from e
    diags = said.diags()
    _print_diagnostics(diags, "text", verbose)
    click.echo(
        f"{counted(said.questions, 'question')} from {counted(said.files, 'file')}"
        f" -> {counted(said.question_cards, 'question card')} + {counted(said.concept_cards, 'concept card')};"
        f" {said.unanswered} unanswered; {counted(diags.errors, 'error')}, {counted(diags.warnings, 'warning')}"
    )
    for p in said.outputs:
        click.echo(f"  wrote {p}")
    if diags.failed(strict):
        raise SystemExit(1)


@main.command()
@paths_argument
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option("--format", "fmt", type=click.Choice(["text", "github", "json"]), default="text",
              help="Message format: text (path:line: message), github (Actions annotations), json.")
@click.option("-v", "--verbose", is_flag=True, help="Also print informational notes.")
@common_options
@split_option
@click.pass_context
def check(ctx: click.Context, paths: tuple[Path, ...], strict: bool, fmt: str, verbose: bool,
          lock: Path | None, catalogue: Path | None, split: bool | None) -> None:
    """Read the notes and report problems only; writes nothing."""
    from bagu2anki.cards import make_cards
    from bagu2anki.identity import assign
    from bagu2anki.lockfile import Lock
    from bagu2anki.pipeline import analyse
    from bagu2anki.render import Renderer

    cfg = _config(ctx, paths, lock=lock, catalogue=catalogue, split=split)
    diags = Diagnostics()
    analysis = analyse(cfg, diags, workers=cfg.workers())
    lk = Lock.load(cfg.lock_path())
    identity = assign(analysis.atoms, lk, diags)
    make_cards(cfg, analysis, identity, lk, Renderer(diags, cfg.fold_threshold), diags)
    if fmt == "json":
        click.echo(diags.to_json())
    else:
        _print_diagnostics(diags, fmt, verbose, cfg.paths)
        click.echo(
            f"{counted(len(analysis.atoms), 'question')}; {counted(diags.errors, 'error')}, "
            f"{counted(diags.warnings, 'warning')}",
            err=True,
        )
    if diags.failed(strict):
        raise SystemExit(1)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--html", "html_out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the view as a standalone HTML page to this file instead of printing the lines.")
@click.option("--color/--no-color", "color", default=None,
              help="Colour the roles (default: in a terminal only, and never when NO_COLOR is set).")
@split_option
@click.pass_context
def show(ctx: click.Context, file: Path, html_out: Path | None, color: bool | None, split: bool | None) -> None:
    """Print FILE as it was read: each line marked question, follow-up, to do, answer, structure or in no card."""
    from bagu2anki.show import LABEL, MARK, ROLES, load, read_document, reading_of

    src = load(file)  # a missing or unreadable file: one line, exit 1
    cfg = _config(ctx, (file,), split=split)
    reading = reading_of(read_document(src, cfg.split, cfg.reading), src.text)
    if html_out is not None:
        from bagu2anki.write.reading_view import write_reading

        try:
            write_reading(html_out, reading, title=str(file))
        except OSError as e:
            raise UserError(f"{html_out}: cannot write the page ({e.strerror or e})") from e
        click.echo(f"{file}: {reading.summary()}")
        click.echo(f"  wrote {html_out}")
        return
    if color is None:  # https://no-color.org: set and not empty
        color = _terminal() and not os.environ.get("NO_COLOR")
    styles: dict[str | None, dict[str, Any]] = {
        "question": {"fg": "blue", "bold": True}, "follow-up": {"fg": "magenta", "bold": True},
        "todo": {"fg": "yellow", "bold": True}, "answer": {"fg": "green"},
        "structure": {"fg": "bright_black"}, "none": {"fg": "red"}, None: {"fg": "bright_black"},
    }
    width = len(str(len(reading.lines)))
    out: list[str] = []
    for ln in reading.lines:
        gutter = f"{MARK[ln.role] if ln.role else ' '} {ln.number:>{width}} │"
        text = ln.text
        if color:
            gutter = click.style(gutter, **styles[ln.role])
            if ln.role in ("question", "follow-up", "todo"):
                text = click.style(text, bold=True)
        out.append(f"{gutter} {text}" if text.strip() else gutter)
    legend = "  ".join(f"{MARK[r]} {LABEL[r]}" for r in ROLES)
    out.append(click.style(legend, dim=True) if color else legend)
    out.append(f"{file}: {reading.summary()}")
    click.echo("\n".join(out), color=color)


def _terminal() -> bool:
    return sys.stdout.isatty()


@main.group()
def export() -> None:
    """Print what was read, as JSON, for other tools."""


@export.command("atoms")
@paths_argument
@common_options
@split_option
@click.pass_context
def export_atoms(ctx: click.Context, paths: tuple[Path, ...], lock: Path | None, catalogue: Path | None,
                 split: bool | None) -> None:
    """One JSON object per question (JSON Lines), in source order."""
    from bagu2anki.pipeline import atom_records

    cfg = _config(ctx, paths, lock=lock, catalogue=catalogue, split=split)
    diags = Diagnostics()
    out = sys.stdout.buffer  # JSON Lines are UTF-8 whatever the locale says
    for rec in atom_records(cfg, diags):
        out.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
    out.flush()
    _print_diagnostics(diags, "text")


@export.command("graph")
@paths_argument
@common_options
@split_option
@click.pass_context
def export_graph(ctx: click.Context, paths: tuple[Path, ...], lock: Path | None, catalogue: Path | None,
                 split: bool | None) -> None:
    """The concept graph: {"nodes": [...], "edges": [...]}."""
    from bagu2anki.pipeline import graph_export

    cfg = _config(ctx, paths, lock=lock, catalogue=catalogue, split=split)
    diags = Diagnostics()
    click.echo(json.dumps(graph_export(cfg, diags), ensure_ascii=False, indent=1))
    _print_diagnostics(diags, "text")


def _deck_options(f: F) -> F:
    """The build options `sync` and `watch` take (as `build` spells them)."""
    for option in reversed([
        click.option("-o", "--out", type=click.Path(path_type=Path), default=None, help="Output folder (default: out/)."),
        click.option("--deck", default=None, help="Root deck name (default: the notes folder's name)."),
        click.option("--include-unanswered", is_flag=True, default=None, help="Add unanswered questions, tagged 待补充."),
        click.option("--concept-cards", "concept_cards", type=click.Choice(["all", "used", "none"]), default=None,
                     help="Cards that ask what a concept is: for every concept the notes use (all), for those two or more questions use (used, the default), or none."),
        click.option("--no-concept-cards", "concept_cards", flag_value="none", help="Same as --concept-cards none."),
        click.option("--flat", "flat_decks", is_flag=True, default=None, help="One deck for everything (sections stay as tags)."),
        click.option("--fold-threshold", type=click.IntRange(min=100), default=None,
                     help="Answers longer than this many visible characters open with a summary and fold the rest (default 1000)."),
        click.option("-j", "--jobs", type=click.IntRange(min=0), default=0,
                     help="Processes that render answers in parallel (default 0: one per CPU core)."),
        split_option,
    ]):
        f = option(f)
    return f


def _anki_options(f: F) -> F:
    f = click.option("--suspend-orphans", is_flag=True, default=False,
                     help="Also suspend the cards of notes whose question left the notes (tagged bagu2anki::orphan either way).")(f)
    f = click.option("--key", envvar="ANKI_CONNECT_KEY", default=None,
                     help="AnkiConnect's API key, when the add-on has one (or set ANKI_CONNECT_KEY).")(f)
    f = click.option("--url", envvar="ANKI_CONNECT_URL", default="http://127.0.0.1:8765", show_default=True,
                     help="Where AnkiConnect listens (or set ANKI_CONNECT_URL).")(f)
    return f


@main.command()
@paths_argument
@_deck_options
@click.option("--strict", is_flag=True, default=False, help="Send nothing (exit 1) on warnings too.")
@click.option("--no-cache", is_flag=True, default=False, help="Force a cold build (ignore the build cache).")
@_anki_options
@click.option("-v", "--verbose", is_flag=True, help="Also print informational notes, and each note that changed in Anki.")
@common_options
@click.pass_context
def sync(ctx: click.Context, paths: tuple[Path, ...], out: Path | None, deck: str | None,
         include_unanswered: bool | None, concept_cards: str | None, flat_decks: bool | None,
         fold_threshold: int | None, jobs: int, split: bool | None, strict: bool, no_cache: bool, url: str, key: str | None,
         suspend_orphans: bool, verbose: bool, lock: Path | None, catalogue: Path | None) -> None:
    """Build, then send the deck to a running Anki through AnkiConnect: adds, updates in place, moves decks; never deletes."""
    from bagu2anki.ankiconnect import Target
    from bagu2anki.sync import built_line
    from bagu2anki.sync import sync as run_sync

    cfg = _config(ctx, paths, out=out, deck=deck, include_unanswered=include_unanswered,
                  concept_cards=concept_cards, flat_decks=flat_decks, fold_threshold=fold_threshold, lock=lock, catalogue=catalogue,
                  split=split)
    cfg = replace(cfg, strict=strict, use_cache=not no_cache, jobs=jobs)
    outcome = run_sync(cfg, Target(url, key or None, suspend_orphans))
    _print_diagnostics(outcome.result.diagnostics, "text", verbose)
    click.echo(built_line(outcome.result))
    if outcome.report is None:
        raise UserError("not sent to Anki: the notes have errors" + (" or warnings (--strict)" if strict else ""))
    click.echo(outcome.report.summary())
    if verbose:
        from bagu2anki.lockfile import Lock

        for line in outcome.report.details(Lock.load(cfg.lock_path())):
            click.echo(line)


@main.command()
@paths_argument
@_deck_options
@click.option("--sync", "send", is_flag=True, default=False, help="Also send each rebuild to a running Anki, as `bagu2anki sync` does.")
@_anki_options
@click.option("--debounce", type=click.IntRange(min=20, max=10_000), default=300, show_default=True,
              help="Milliseconds of quiet after a save before rebuilding.")
@click.option("-v", "--verbose", is_flag=True, help="Also print informational notes of the saved files.")
@common_options
@click.pass_context
def watch(ctx: click.Context, paths: tuple[Path, ...], out: Path | None, deck: str | None,
          include_unanswered: bool | None, concept_cards: str | None, flat_decks: bool | None,
          fold_threshold: int | None, jobs: int, split: bool | None, send: bool, url: str, key: str | None, suspend_orphans: bool,
          debounce: int, verbose: bool, lock: Path | None, catalogue: Path | None) -> None:
    """Rebuild whenever a note file is saved (with --sync, send each rebuild to Anki); Ctrl-C stops."""
    from bagu2anki.ankiconnect import Target
    from bagu2anki.watch import WatchOptions
    from bagu2anki.watch import watch as run_watch

    cfg = _config(ctx, paths, out=out, deck=deck, include_unanswered=include_unanswered,
                  concept_cards=concept_cards, flat_decks=flat_decks, fold_threshold=fold_threshold, lock=lock, catalogue=catalogue,
                  split=split)
    cfg = replace(cfg, jobs=jobs)
    target = Target(url, key or None, suspend_orphans) if send else None
    run_watch(cfg, WatchOptions(target, debounce, verbose))


if __name__ == "__main__":  # pragma: no cover
    main()
