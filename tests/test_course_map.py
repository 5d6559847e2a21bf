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


def markdown_links(path):
    nb = nbformat.read(path, as_version=4)
    return re.findall(r"\]\(([^)]+)\)", "\n".join(c.source for c in nb.cells if c.cell_type == "markdown"))


def test_an_appendix_is_linked_from_the_notebook_it_belongs_to_and_back():
    # NN_name_appendix.ipynb holds optional material taken out of NN_name.ipynb's main path
    appendices = sorted(NOTEBOOKS.glob("[0-9][0-9]_*_appendix.ipynb"))
    assert appendices, "no appendix notebook: notebook 06's seed autopsies live in one"
    for appendix in appendices:
        main = appendix.with_name(appendix.name.replace("_appendix.ipynb", ".ipynb"))
        assert main.exists(), f"{appendix.name} belongs to no notebook: {main.name} does not exist"
        assert appendix.name in markdown_links(main), f"{main.name} does not link its appendix {appendix.name}"
        assert main.name in markdown_links(appendix), f"{appendix.name} does not link back to {main.name}"
