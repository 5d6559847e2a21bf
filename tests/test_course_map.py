"""The start page links every notebook of the course, and every link it holds resolves."""

import re
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def start_page_links():
    nb = nbformat.read(NOTEBOOKS / "00_start_here.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return re.findall(r"\]\(([^)]+)\)", text)


def test_every_course_notebook_is_on_the_start_page():
    links = set(start_page_links())
    course = {p.name for p in NOTEBOOKS.glob("*.ipynb")} - {"00_start_here.ipynb"}
    missing = sorted(course - links)
    assert not missing, f"notebooks missing from the course map: {missing}"
    assert "exercises/01_rnn_step.ipynb" in links  # a notebook: JupyterLab cannot open a link to a folder


def test_every_link_resolves():
    for link in start_page_links():
        assert (NOTEBOOKS / link).exists(), f"the start page links {link}, which does not exist"
