import pytest


@pytest.fixture
def centre(db):
    from kefu.core.testing import Centre

    return Centre()


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "attachments"
