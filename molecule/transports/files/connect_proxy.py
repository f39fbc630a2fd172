"""A minimal HTTP CONNECT proxy for tests: logs each CONNECT target, then relays bytes both ways."""

import asyncio
import sys


async def relay(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def handle(client_reader, client_writer):
    request = await client_reader.readuntil(b"\r\n\r\n")
    method, target, _version = request.split(b"\r\n", 1)[0].decode().split(" ")
    host, port = target.rsplit(":", 1)
    print(f"{method} {target}", flush=True)
    if method != "CONNECT":
        client_writer.write(b"HTTP/1.0 405 Method Not Allowed\r\n\r\n")
        client_writer.close()
        return
    upstream_reader, upstream_writer = await asyncio.open_connection(host.strip("[]"), int(port))
    client_writer.write(b"HTTP/1.0 200 Connection established\r\n\r\n")
    await asyncio.gather(relay(client_reader, upstream_writer), relay(upstream_reader, client_writer))


async def main(port):
    server = await asyncio.start_server(handle, host=None, port=port)
    async with server:
        await server.serve_forever()


asyncio.run(main(int(sys.argv[1])))
