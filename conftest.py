import pytest


@pytest.fixture
def centre(db):
    from kefu.core.testing import Centre

    return Centre()


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "attachments"
    # Password hashing at full strength costs ~0.3 s a user; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
