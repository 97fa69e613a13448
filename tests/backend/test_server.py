"""backend/server.py's transport wrapper: the writes of one turn of the event loop leave in one
writelines. (Every server test sends its requests through it; these check its own states.)"""

from __future__ import annotations

import asyncio

from backend.server import OneSendPerTurn


class RecordingTransport:
    """What the wrapper hands on to the socket's transport."""

    def __init__(self) -> None:
        self.sent: list[list[bytes]] = []
        self.closing = False

    def writelines(self, lines) -> None:
        self.sent.append(list(lines))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_write_buffer_size(self) -> int:
        return 7

    def get_extra_info(self, name: str) -> str:
        return f"info {name}"


def test_the_writes_of_one_turn_leave_together_and_in_order():
    async def check() -> list[list[bytes]]:
        transport = RecordingTransport()
        wrapped = OneSendPerTurn(transport, asyncio.get_running_loop())
        wrapped.write(b"HTTP/1.1 200 OK\r\n\r\n")
        wrapped.writelines([b"body ", b"parts"])
        assert transport.sent == []  # not before the turn ends
        assert wrapped.get_write_buffer_size() == 7 + 29
        await asyncio.sleep(0)
        wrapped.write(b"next response")
        await asyncio.sleep(0)
        return transport.sent

    assert asyncio.run(check()) == [
        [b"HTTP/1.1 200 OK\r\n\r\n", b"body ", b"parts"],
        [b"next response"],
    ]


def test_close_sends_what_is_pending_first_and_nothing_is_sent_after():
    async def check() -> RecordingTransport:
        transport = RecordingTransport()
        wrapped = OneSendPerTurn(transport, asyncio.get_running_loop())
        wrapped.write(b"last words")
        wrapped.close()
        assert transport.sent == [[b"last words"]] and transport.closing
        wrapped.write(b"too late")  # e.g. a response finishing after a disconnect
        await asyncio.sleep(0)
        return transport

    assert asyncio.run(check()).sent == [[b"last words"]]


def test_everything_else_is_the_transport_s_own():
    async def check() -> None:
        wrapped = OneSendPerTurn(RecordingTransport(), asyncio.get_running_loop())
        assert wrapped.get_extra_info("peername") == "info peername"
        assert wrapped.is_closing() is False

    asyncio.run(check())
