#!/usr/bin/env python3
"""A TCP proxy that adds a fixed delay to every reply from a server (Redis, say), keeping the order.

    python3 bench/redis/latency_proxy.py --listen 16380 --target 6379 --delay-ms 5

Loopback only. Requests go through at once; each chunk the server sends back is delivered `delay-ms`
after it arrived, so every round trip takes that much longer, as with a Redis one network hop away.
"""
import argparse
import asyncio


async def pipe(reader, writer, delay):
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, chunk = await queue.get()
            if chunk is None:
                break
            wait = due - asyncio.get_running_loop().time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(chunk)
            await writer.drain()
        writer.close()

    task = asyncio.create_task(deliver())
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            await queue.put((asyncio.get_running_loop().time() + delay, chunk))
    finally:
        await queue.put((0, None))
        await task


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--target", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=5)
    args = parser.parse_args()

    async def handle(client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", args.target)
        await asyncio.gather(pipe(client_reader, server_writer, 0), pipe(server_reader, client_writer, args.delay_ms / 1000))

    server = await asyncio.start_server(handle, "127.0.0.1", args.listen)
    print(f"proxy 127.0.0.1:{args.listen} -> 127.0.0.1:{args.target}, +{args.delay_ms} ms per reply", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
