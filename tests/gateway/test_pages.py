"""The pages the gateway serves: the widget script, its demo page, the console and its assets."""

from __future__ import annotations

from gateway_testkit import StartApp


async def test_pages_and_assets_are_served_with_their_headers(start_app: StartApp) -> None:
    async with start_app() as ctx:
        widget = await ctx.client.get("/webchat/widget.js")
        demo = await ctx.client.get("/webchat/demo")
        console = await ctx.client.get("/operator")
        script = await ctx.client.get("/static/operator/console.js")
        root = await ctx.client.get("/", follow_redirects=False)
    assert widget.status_code == 200 and widget.headers["content-type"].startswith("text/javascript")
    assert widget.headers["x-content-type-options"] == "nosniff"
    # The demo page embeds the widget with one script tag.
    assert demo.status_code == 200 and '<script src="/webchat/widget.js"' in demo.text
    assert console.status_code == 200 and "/static/operator/console.js" in console.text
    for page in (demo, console):
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert script.status_code == 200 and "textContent" in script.text
    assert root.status_code in (302, 307) and root.headers["location"] == "/webchat/demo"


async def test_no_page_puts_data_into_html(start_app: StartApp) -> None:
    """Every message is rendered as text: the scripts never assign server data to innerHTML and the like."""
    async with start_app() as ctx:
        scripts = [(await ctx.client.get(path)).text for path in ("/webchat/widget.js", "/static/operator/console.js")]
    for source in scripts:
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
            assert sink not in source
