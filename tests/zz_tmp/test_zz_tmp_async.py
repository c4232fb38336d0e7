import asyncio
import pytest
pytestmark = pytest.mark.integration
async def test_async_after_browser() -> None:
    await asyncio.sleep(0.01)
