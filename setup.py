"""The mapping files and the API contract live at the repository's top level (`mappings/`, `openapi.yaml`),
where people edit them; a built wheel carries copies inside the package (`unified_ticketing/mappings`,
`unified_ticketing/openapi.yaml`), which `unified_ticketing.resources` finds first. An editable install
reads the top-level files themselves. Everything else is in pyproject.toml."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("mappings", "openapi.yaml")


class BuildWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # the source tree's own files are read
        target = Path(self.build_lib) / "unified_ticketing"
        for name in SHIPPED:
            source, copy = ROOT / name, target / name
            if source.is_dir():
                shutil.rmtree(copy, ignore_errors=True)
                shutil.copytree(source, copy)
            else:
                shutil.copy2(source, copy)


setup(cmdclass={"build_py": BuildWithData})
