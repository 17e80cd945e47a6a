"""The dashboard's static files as the API server serves them: the /ui redirect, content
types, ETag revalidation and caching headers, and Status errors for unknown files."""

from __future__ import annotations

import aiohttp

from hyperkube.apiserver.app import APIServer


async def test_ui_redirects_to_the_directory_relative_to_where_it_was_asked(server: APIServer):
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + "/ui", allow_redirects=False) as response:
            assert response.status == 301
            assert response.headers["Location"] == "ui/"
        async with session.get(server.url + "/ui") as response:  # followed as a browser does
            assert response.status == 200
            assert str(response.url).endswith("/ui/")


async def test_static_files_have_their_types_an_etag_and_revalidate(server: APIServer):
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + "/ui/") as response:
            page = await response.text()
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/html; charset=utf-8"
            assert response.headers["Cache-Control"] == "no-cache"
            etag = response.headers["ETag"]
        assert '<script type="module" src="app.js">' in page
        async with session.get(server.url + "/ui/", headers={"If-None-Match": etag}) as response:
            assert response.status == 304
            assert await response.read() == b""
        for name, content_type in [("app.js", "text/javascript; charset=utf-8"), ("style.css", "text/css; charset=utf-8"),
                                   ("icon.svg", "image/svg+xml"), ("yaml.js", "text/javascript; charset=utf-8")]:
            async with session.get(f"{server.url}/ui/{name}") as response:
                assert response.status == 200, name
                assert response.headers["Content-Type"] == content_type
                assert response.headers["ETag"] != etag
                assert await response.read()


async def test_unknown_files_are_a_not_found_status(server: APIServer):
    async with aiohttp.ClientSession() as session:
        for path in ("/ui/missing.js", "/ui/..%2F__init__.py", "/ui/__init__.py"):
            async with session.get(server.url + path) as response:
                assert response.status == 404, path
                body = await response.json()
                assert body["kind"] == "Status" and body["reason"] == "NotFound"
