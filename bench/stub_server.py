"""A trivial OpenAI-compatible stub: answers every request with one fixed chat completion.

The reference point for the simulator's throughput benchmark: an asyncio server that does no work
beyond reading the request and writing fixed bytes (HTTP/1.1 keep-alive).

    python bench/stub_server.py [PORT] [LATENCY_MS]

With LATENCY_MS, each answer waits that long first (requests wait concurrently, like a remote API).
"""

from __future__ import annotations

import asyncio
import json
import sys

BODY = json.dumps({
    "id": "chatcmpl-stub", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "food", "refusal": None, "annotations": []},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 20, "completion_tokens": 1, "total_tokens": 21},
}).encode()
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + str(len(BODY)).encode()
            + b"\r\n\r\n" + BODY)


LATENCY = {"seconds": 0.0}


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            if LATENCY["seconds"]:
                await asyncio.sleep(LATENCY["seconds"])
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    """Serve on 127.0.0.1:``port`` (0 = any) and print the base URL on the first line."""
    server = await asyncio.start_server(_serve_connection, "127.0.0.1", port, backlog=1024)
    print(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    LATENCY["seconds"] = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.0
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
