"""Credentials of a network camera with camera stamps: kept out of messages, sent right.

1. A URL whose host is missing (`http://op:s3cret@/video`, a typo an integrator makes) passes
   the deployment's check (`uri.startswith("http://")`) and `MjpegGrabber` refuses it with the
   raw URL in the message: the password goes to the console and the log.
2. Cameras that take their credentials in the query (Foscam and many others:
   `/videostream.cgi?user=admin&pwd=...`) get the whole URL into every message (`cannot
   connect`, `HTTP answer '401 ...'`), which the capture thread logs as `capture_error` at each
   retry. `_safe_url` hides only `user:password@`.
3. A password with a reserved character has to be percent-encoded in a URL (`p%40ss` for
   `p@ss`); the basic-auth header carries it still encoded, so the camera refuses the box.

Suggested fix: messages name the camera by scheme://host[:port]/path only (no userinfo, no
query) in every message, the constructor's included; unquote username and password before
encoding the Authorization header.
"""

from __future__ import annotations

import base64

import pytest

from plantvision.errors import MediaError
from plantvision.frames.mjpeg import MjpegGrabber
from tests.review10.netcam import Conn, ScriptedCamera


def _refuse(conn: Conn) -> None:
    conn.send(b"HTTP/1.0 401 Unauthorized\r\n\r\n")


def test_a_url_without_a_host_is_refused_without_its_password() -> None:
    with pytest.raises(MediaError) as err:
        MjpegGrabber("http://op:s3cret@/video")
    assert "s3cret" not in str(err.value)


def test_credentials_in_the_query_stay_out_of_the_message() -> None:
    camera = ScriptedCamera([_refuse])
    try:
        with pytest.raises(MediaError, match="401") as err:
            MjpegGrabber(camera.url.replace("/video", "/videostream.cgi?user=op&pwd=s3cret")).open()
    finally:
        camera.stop()
    assert "s3cret" not in str(err.value)


def test_a_percent_encoded_password_is_sent_decoded() -> None:
    camera = ScriptedCamera([_refuse])
    try:
        with pytest.raises(MediaError, match="401"):
            MjpegGrabber(camera.url.replace("http://", "http://op:p%40ss@")).open()
    finally:
        camera.stop()
    token = base64.b64encode(b"op:p@ss").decode()
    assert f"Authorization: Basic {token}\r\n".encode() in camera.requests[0]
