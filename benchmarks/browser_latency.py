"""From a key press (or a click) to the new figure in the page: notebook 08's explorer in JupyterLab.

    .venv/bin/python benchmarks/browser_latency.py [--moves 24] [--held 6] [--compare DIR] [--strict]

Runs notebook 08 in JupyterLab and headless Chromium with the browser test's page driver
(``tests/browser_driver.py``), then, on the LSTM gate explorer:

- slider: presses ArrowRight/ArrowLeft on unit 0's forget-bias slider, one slider step per move
  (a learner stepping through values), sweeping right and then back;
- preset: clicks the preset buttons in turn (each one changes every gate's weights at once);
- held key (reported, no goal): ten presses 33 ms apart, as a held key repeats, then the time
  from the last press to the figure for the last value.

Each move is timed in the page, so Playwright's own overhead is not counted: a capturing
``keydown``/``click`` listener stamps ``performance.now()`` when the input arrives, a
MutationObserver stamps the moment the widget replaces the figure's ``<img src>``, and the
image's ``decode()`` followed by the next animation frame stamps when the new picture is
decoded and goes into the frame being painted ("shown", the number the goals are about). The
next move starts only after that and a short pause with the kernel idle, so moves do not
overlap. Two warm-up moves of each kind are not counted.

``--compare DIR`` serves a second copy of the notebook whose kernel imports lstm_lab from DIR
(for example ``git archive HEAD~1 | tar -x -C /tmp/before``) and alternates every move between
the two pages, so both see the same machine load: on a shared machine only the ratio means much.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the page driver lives beside the browser test

import browser_driver as driver  # noqa: E402

GOALS_MS = {"slider": (50.0, 100.0), "preset": (None, 100.0)}  # (median, max); None: no goal
PAUSE_MS = 250  # between moves, with the kernel idle: a learner looking at the figure
REPEAT_MS = 33  # a held key repeats about 30 times a second
HELD_PRESSES = 10
PRESET_CYCLE = ("remember everything", "forget every step", "copy the input", "silent output", "all zero",
                "seed 001")  # from seed 001's start, each preset changes the figure

PROBE = """() => {
  // Installed once. Every move: input time -> <img src> replaced -> new image loaded and in a frame.
  const probe = window.__latency = {input: null, moves: []};
  const stamp = () => { probe.input = performance.now(); };
  document.addEventListener("keydown", stamp, true);  // capturing: before the slider sees the key
  document.addEventListener("click", stamp, true);
  const img = document.querySelector("%s %s");
  new MutationObserver(() => {
    const move = {input: probe.input, replaced: performance.now()};
    // decode(): loaded and decoded, ready to paint (a load event may come before the decode)
    const shown = () => requestAnimationFrame(() => { move.shown = performance.now(); probe.moves.push(move); });
    img.decode().then(shown, shown);
  }).observe(img, {attributes: true, attributeFilter: ["src"]});
}""" % (driver.EXPLORER, driver.FIGURE)


@dataclass
class Side:
    """One JupyterLab page and the moves timed on it."""

    name: str
    page: object
    explorer: object
    times: dict = field(default_factory=lambda: {"slider": [], "preset": []})
    held: list = field(default_factory=list)  # per held key: ms from the last press to its figure, figures drawn

    def held_key(self, key: str, presses: int) -> None:
        """A held arrow key: ``presses`` key presses at the keyboard's repeat rate, then let go.

        The page sends a slider's value only when the kernel has answered the one before (the
        widget manager holds and merges the rest), so a held key never builds a queue: what
        counts is the time from letting go (the last press) to the figure for the last value.
        """
        page = self.page
        before = page.evaluate("window.__latency.moves.length")
        driver.slider(self.explorer, "bias").locator(".noUi-handle").focus()
        for _ in range(presses):
            page.keyboard.press(key)
            page.wait_for_timeout(REPEAT_MS)
        last_press = page.evaluate("window.__latency.input")
        page.wait_for_function(f"window.__latency.moves.length > {before} && "
                               f"window.__latency.moves.at(-1).input === {last_press}", timeout=20_000)
        page.wait_for_selector(driver.IDLE)
        page.wait_for_timeout(PAUSE_MS)
        moves = page.evaluate("window.__latency.moves")[before:]
        self.held.append({"shown": moves[-1]["shown"] - last_press, "figures": len(moves)})

    def move(self, kind: str, action, count: bool) -> None:
        page = self.page
        before = page.evaluate("window.__latency.moves.length")
        action()
        try:
            page.wait_for_function(f"window.__latency.moves.length > {before}", timeout=20_000)
        except Exception as error:
            raise driver.DriverError(f"{self.name}: the figure did not change after a {kind} move") from error
        last = page.evaluate("window.__latency.moves[window.__latency.moves.length - 1]")
        if count:
            self.times[kind].append({k: last[k] - last["input"] for k in ("replaced", "shown")})
        page.wait_for_selector(driver.IDLE)
        page.wait_for_timeout(PAUSE_MS)


def open_side(name: str, browser, lab) -> Side:
    page = driver.open_page(browser, lab)
    driver.run_all(page)
    explorer = driver.lstm_explorer(page)
    page.evaluate(PROBE)
    return Side(name, page, explorer)


def slider_keys(moves: int) -> list[str]:
    """Right for the first half, then back left: every move changes the forget bias by one step."""
    right = (moves + 1) // 2
    return ["ArrowRight"] * right + ["ArrowLeft"] * (moves - right)


def summary(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[int(0.9 * (len(ordered) - 1))], ordered[-1]


def report(sides: list[Side]) -> bool:
    """Print median, p90 and max per side and kind; True if this tree meets every goal."""
    met = True
    print(f"{'':<8} {'':<7} {'':<14} {'median':>7} {'p90':>7} {'max':>7}   goal (median / max)")
    for kind, (goal_median, goal_max) in GOALS_MS.items():
        for side in sides:
            for stage in ("replaced", "shown"):
                median, p90, worst = summary([t[stage] for t in side.times[kind]])
                goal = ""
                if stage == "shown":
                    goal = f"≤ {goal_median:.0f} / " if goal_median else "- / "
                    goal += f"≤ {goal_max:.0f} ms"
                    ok = (goal_median is None or median <= goal_median) and worst <= goal_max
                    goal += "  ok" if ok else "  MISSED"
                    if side is sides[0]:
                        met &= ok
                print(f"{kind:<8} {side.name:<7} {stage:<14} {median:7.1f} {p90:7.1f} {worst:7.1f}   {goal}")
        if len(sides) == 2:
            ratio = statistics.median(t["shown"] for t in sides[0].times[kind]) / \
                statistics.median(t["shown"] for t in sides[1].times[kind])
            print(f"{kind:<8} this tree / {sides[1].name}, median shown: {ratio:.2f}")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=24, help="timed moves of each kind (at least 18)")
    parser.add_argument("--held", type=int, default=6, help="times to hold an arrow key down (0: none)")
    parser.add_argument("--compare", type=Path, help="a checkout of lstm_lab to alternate with, move by move")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a goal is missed")
    args = parser.parse_args()
    if args.moves < 18:
        parser.error("--moves: at least 18, so a median and a maximum mean something")

    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}, "
          f"{platform.python_implementation()} {platform.python_version()}, {driver.CHROMIUM}")
    if os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1):
        print("the machine is busy: absolute times are longer than on a quiet one; compare with --compare")
    print(f"{args.moves} timed moves of each kind; ms from the key press or click, measured in the page\n")
    sides_to_open = [("this", ROOT)] + ([("compare", args.compare.resolve())] if args.compare else [])
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        api = stack.enter_context(driver.playwright())
        browser = stack.enter_context(driver.chromium(api))
        sides = []
        for name, tree in sides_to_open:
            # the kernel imports lstm_lab from `tree`; one thread, as the lab runs it (run.sh lab)
            env = {"PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
            lab = stack.enter_context(driver.jupyterlab(Path(tmp) / name, env=env))
            sides.append(open_side(name, browser, lab))
        warmup = 2
        for k, key in enumerate(slider_keys(args.moves + warmup)):
            for side in sides:
                handle = driver.slider(side.explorer, "bias").locator(".noUi-handle")
                side.move("slider", lambda: (handle.focus(), side.page.keyboard.press(key)), count=k >= warmup)
        for k in range(args.moves + warmup):
            name = PRESET_CYCLE[k % len(PRESET_CYCLE)]
            for side in sides:
                button = driver.preset_button(side.explorer, name)
                side.move("preset", button.click, count=k >= warmup)
        for k in range(args.held):
            for side in sides:
                side.held_key(("ArrowRight", "ArrowLeft")[k % 2], HELD_PRESSES)
    met = report(sides)
    if args.held:
        print(f"\nheld key ({HELD_PRESSES} presses {REPEAT_MS} ms apart, {args.held} times), "
              "from the last press to its figure shown (no goal):")
        for side in sides:
            median, p90, worst = summary([h["shown"] for h in side.held])
            figures = statistics.mean(h["figures"] for h in side.held)
            print(f"  {side.name:<7} median {median:.1f}, max {worst:.1f} ms; "
                  f"{figures:.1f} figures drawn for {HELD_PRESSES} presses")
    print("\n'replaced': the widget set the new <img src>; 'shown': that image decoded and in the next frame")
    print("every goal met" if met else "a goal is missed")
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
