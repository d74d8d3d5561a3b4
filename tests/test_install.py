"""What `pip install .` puts into site-packages: the one import name `epaper`, nothing else."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECK = ("import importlib.util, epaper, epaper.cli, epaper.crawler.spiders.epaper; "
         "from epaper import load_articles, load_pages; "
         "print(epaper.__file__); "
         "print([n for n in ('crawler', 'pipelines', 'storage', 'replica') if importlib.util.find_spec(n)])")


def _python(code: str, cwd: Path, path: Path | None = None) -> list[str]:
    prefix = f"import sys; sys.path.insert(0, {str(path)!r}); " if path else ""
    out = subprocess.run([sys.executable, "-c", prefix + code], cwd=cwd, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_the_wheel_installs_only_epaper(tmp_path):
    src = tmp_path / "src"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in files.splitlines():
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes((ROOT / name).read_bytes())
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "dist"), str(src)], check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("epaper-*.whl"))
    top = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in top if not t.endswith(".dist-info")} == {"epaper"}
    assert "epaper/replica/seed-article.json" in zipfile.ZipFile(wheel).namelist()

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    assert sorted(p.name for p in target.iterdir() if not p.name.endswith(".dist-info")) == ["bin", "epaper"]
    where, shadowed = _python(CHECK, cwd=tmp_path, path=target)
    assert where.startswith(str(target))
    assert shadowed == "[]"


def test_the_editable_install_maps_the_folders_under_epaper(tmp_path):
    where, shadowed = _python(CHECK, cwd=tmp_path)
    assert where == str(ROOT / "epaper" / "__init__.py")
    assert shadowed == "[]"  # an analyst's own storage.py is not shadowed by ours
    (tmp_path / "storage.py").write_text("WHOSE = 'mine'\n")
    assert _python("import storage; print(storage.WHOSE)", cwd=tmp_path) == ["mine"]
