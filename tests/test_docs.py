"""The docs: the MkDocs site builds with --strict (a broken link fails CI), and the README stays a newcomer's page."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Material for MkDocs prints a notice about its successor on every build; it is not a problem of ours.
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def _build(config, site):
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", config, "-d", str(site)],
                          cwd=os.path.dirname(config), capture_output=True, text=True, env=ENV, timeout=300)


def test_site_builds_strict(tmp_path):
    out = _build(os.path.join(ROOT, "mkdocs.yml"), tmp_path / "site")
    assert out.returncode == 0, out.stderr[-3000:]
    for page in ("index.html", "guide/ui/index.html", "model-card/index.html", "benchmarks/index.html",
                 "training/index.html", "design/index.html", "images/ui.png"):
        assert (tmp_path / "site" / page).is_file(), page
    assert "ImageSlider" in (tmp_path / "site" / "guide/ui/index.html").read_text()


def test_strict_build_fails_on_a_broken_link(tmp_path):
    """The check above can fail: the same settings refuse a page that links to a missing one."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\nSee [the guide](guide/missing.md).\n")
    config = tmp_path / "mkdocs.yml"
    config.write_text("site_name: t\ntheme:\n  name: material\n  font: false\n")
    out = _build(str(config), tmp_path / "site")
    assert out.returncode != 0 and "missing.md" in out.stderr


def test_readme_is_a_newcomers_page():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    assert len(text.splitlines()) <= 200
    assert 'pip install -e ".[ui]" && mzsr-tf ui' in text
    assert 'pip install -e ".[test]" && python -m pytest -q tests' in text
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        assert 'python -m pip install -q -e ".[test]" && python -m pytest -q tests' in f.read()
    for target in re.findall(r"\]\(([^)#]+)[^)]*\)", text):
        if not target.startswith(("http://", "https://")):
            assert os.path.exists(os.path.join(ROOT, target)), target
    assert "/".join(("..", "shared")) not in text  # the steering folder is no reader's business
