import pytest
pytestmark = pytest.mark.integration
def test_sync_again(browser) -> None:
    assert browser.is_connected()
