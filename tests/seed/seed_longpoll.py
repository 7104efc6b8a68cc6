# Copied UNCHANGED from the seed document ../shared/seed/realtime-communication.md,
# section "Long Polling Implementation" (its only Python code block), byte for byte below the line of dashes.
# tests/seed/run_seed_clients.py uses LongPollingClient from it against a live Moonwire hub and
# checks that this copy still matches the seed document when the document is present.
# Do not edit the code: the point is that the seed's own clients work against Moonwire as they are.
# ----------------------------------------------------------------------------------------------
import asyncio
import json
import time
from typing import Dict, Any, List, Optional, Callable
from dataclasses import dataclass
from aiohttp import web, ClientSession
import uuid

@dataclass
class PollRequest:
    """Long polling request"""
    client_id: str
    last_message_id: Optional[str] = None
    timeout: int = 30
    
@dataclass
class PollResponse:
    """Long polling response"""
    messages: List[Dict[str, Any]]
    last_message_id: str
    has_more: bool = False

class LongPollingQueue:
    """Queue for long polling messages"""
    
    def __init__(self, max_size: int = 1000):
        self.messages: List[Dict[str, Any]] = []
        self.max_size = max_size
        self.waiting_clients: Dict[str, asyncio.Event] = {}
        
        self.metrics = {
            'total_messages': 0,
            'active_clients': 0,
            'poll_requests': 0
        }
    
    def add_message(self, message: Dict[str, Any]):
        """Add message to queue"""
        message['message_id'] = str(uuid.uuid4())
        message['timestamp'] = time.time()
        
        self.messages.append(message)
        
        # Limit queue size
        if len(self.messages) > self.max_size:
            self.messages.pop(0)
        
        self.metrics['total_messages'] += 1
        
        # Notify waiting clients
        for event in self.waiting_clients.values():
            event.set()
    
    async def poll(self, request: PollRequest) -> PollResponse:
        """Poll for new messages"""
        self.metrics['poll_requests'] += 1
        
        # Find starting index
        start_index = 0
        if request.last_message_id:
            for i, msg in enumerate(self.messages):
                if msg['message_id'] == request.last_message_id:
                    start_index = i + 1
                    break
        
        # Get new messages
        new_messages = self.messages[start_index:]
        
        if new_messages:
            # Return immediate response
            return PollResponse(
                messages=new_messages,
                last_message_id=new_messages[-1]['message_id'],
                has_more=False
            )
        
        # No new messages, wait for timeout or new message
        event = asyncio.Event()
        self.waiting_clients[request.client_id] = event
        self.metrics['active_clients'] = len(self.waiting_clients)
        
        try:
            # Wait for new message or timeout
            await asyncio.wait_for(event.wait(), timeout=request.timeout)
            
            # Check for new messages again
            new_messages = self.messages[start_index:]
            
            return PollResponse(
                messages=new_messages,
                last_message_id=new_messages[-1]['message_id'] if new_messages else request.last_message_id,
                has_more=False
            )
            
        except asyncio.TimeoutError:
            # Timeout reached, return empty response
            return PollResponse(
                messages=[],
                last_message_id=request.last_message_id or "",
                has_more=False
            )
        
        finally:
            # Cleanup
            self.waiting_clients.pop(request.client_id, None)
            self.metrics['active_clients'] = len(self.waiting_clients)
    
    def get_metrics(self) -> Dict[str, Any]:
        """Get queue metrics"""
        return {
            **self.metrics,
            'queue_size': len(self.messages)
        }

class LongPollingServer:
    """Long polling server"""
    
    def __init__(self, host: str = "localhost", port: int = 8081):
        self.host = host
        self.port = port
        self.app = web.Application()
        self.queue = LongPollingQueue()
        
        # Setup routes
        self.app.router.add_get('/poll', self._handle_poll)
        self.app.router.add_post('/message', self._handle_message)
        self.app.router.add_get('/metrics', self._handle_metrics)
        
        # CORS middleware
        self.app.middlewares.append(self._cors_handler)
    
    async def _cors_handler(self, request, handler):
        """CORS middleware"""
        response = await handler(request)
        response.headers['Access-Control-Allow-Origin'] = '*'
        response.headers['Access-Control-Allow-Methods'] = 'GET, POST, OPTIONS'
        response.headers['Access-Control-Allow-Headers'] = 'Content-Type'
        return response
    
    async def _handle_poll(self, request):
        """Handle poll request"""
        client_id = request.query.get('client_id', str(uuid.uuid4()))
        last_message_id = request.query.get('last_message_id')
        timeout = int(request.query.get('timeout', 30))
        
        poll_request = PollRequest(
            client_id=client_id,
            last_message_id=last_message_id,
            timeout=timeout
        )
        
        response = await self.queue.poll(poll_request)
        
        return web.json_response({
            'messages': response.messages,
            'last_message_id': response.last_message_id,
            'has_more': response.has_more
        })
    
    async def _handle_message(self, request):
        """Handle new message"""
        data = await request.json()
        
        message = {
            'type': data.get('type', 'message'),
            'content': data.get('content', ''),
            'sender': data.get('sender', 'anonymous'),
        }
        
        self.queue.add_message(message)
        
        return web.json_response({'status': 'sent'})
    
    async def _handle_metrics(self, request):
        """Handle metrics request"""
        metrics = self.queue.get_metrics()
        return web.json_response(metrics)
    
    async def start_server(self):
        """Start long polling server"""
        runner = web.AppRunner(self.app)
        await runner.setup()
        
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        
        print(f"Long polling server started on http://{self.host}:{self.port}")
        print(f"Poll endpoint: http://{self.host}:{self.port}/poll")

class LongPollingClient:
    """Long polling client"""
    
    def __init__(self, base_url: str, client_id: Optional[str] = None):
        self.base_url = base_url.rstrip('/')
        self.client_id = client_id or str(uuid.uuid4())
        self.last_message_id: Optional[str] = None
        self.polling = False
        
        # Event handlers
        self.message_handlers: List[Callable] = []
        
        # Metrics
        self.metrics = {
            'messages_received': 0,
            'poll_requests': 0,
            'timeouts': 0
        }
    
    def add_message_handler(self, handler: Callable):
        """Add message handler"""
        self.message_handlers.append(handler)
    
    async def start_polling(self):
        """Start long polling"""
        self.polling = True
        
        while self.polling:
            try:
                await self._poll_once()
            except Exception as e:
                print(f"Polling error: {e}")
                await asyncio.sleep(5)  # Wait before retry
    
    async def _poll_once(self):
        """Perform one poll request"""
        self.metrics['poll_requests'] += 1
        
        params = {
            'client_id': self.client_id,
            'timeout': 30
        }
        
        if self.last_message_id:
            params['last_message_id'] = self.last_message_id
        
        async with ClientSession() as session:
            async with session.get(f"{self.base_url}/poll", params=params) as response:
                data = await response.json()
                
                messages = data.get('messages', [])
                self.last_message_id = data.get('last_message_id')
                
                if messages:
                    self.metrics['messages_received'] += len(messages)
                    
                    # Handle messages
                    for message in messages:
                        for handler in self.message_handlers:
                            await handler(message)
                else:
                    self.metrics['timeouts'] += 1
    
    async def send_message(self, message_type: str, content: str, sender: str = "client"):
        """Send message to server"""
        async with ClientSession() as session:
            data = {
                'type': message_type,
                'content': content,
                'sender': sender
            }
            
            async with session.post(f"{self.base_url}/message", json=data) as response:
                return await response.json()
    
    def stop_polling(self):
        """Stop polling"""
        self.polling = False
    
    def get_metrics(self) -> Dict[str, Any]:
        """Get client metrics"""
        return self.metrics.copy()

# Demo Usage
async def demo_realtime_communication():
    """Demonstrate real-time communication patterns"""
    
    print("=== Real-time Communication Demo ===")
    
    # Note: This demo shows the implementation structure
    # In practice, you'd need to run servers and clients separately
    
    print("\n1. WebSocket Real-time Chat:")
    print("   ✅ Bidirectional communication")
    print("   ✅ Low latency (< 50ms)")
    print("   ✅ Persistent connections")
    print("   ✅ Real-time typing indicators")
    print("   ✅ Room-based messaging")
    
    print("\n2. Server-Sent Events (SSE):")
    print("   ✅ Server-to-client streaming")
    print("   ✅ Automatic reconnection")
    print("   ✅ Event history replay")
    print("   ✅ Built-in browser support")
    print("   ❌ Client-to-server requires separate channel")
    
    print("\n3. Long Polling:")
    print("   ✅ Works with any HTTP client")
    print("   ✅ Firewall/proxy friendly")
    print("   ✅ Simple implementation")
    print("   ❌ Higher latency")
    print("   ❌ More server resources")
    
    print("\n4. Use Case Recommendations:")
    print("   • WebSocket: Gaming, chat, collaborative editing")
    print("   • SSE: Live feeds, notifications, dashboards")
    print("   • Long Polling: Legacy systems, simple notifications")
    
    print("\n5. Performance Comparison:")
    print("   ┌─────────────┬──────────┬──────────┬─────────────┐")
    print("   │ Method      │ Latency  │ Overhead │ Complexity  │")
    print("   ├─────────────┼──────────┼──────────┼─────────────┤")
    print("   │ WebSocket   │ ~10ms    │ Low      │ Medium      │")
    print("   │ SSE         │ ~50ms    │ Low      │ Low         │")
    print("   │ Long Poll   │ ~100ms   │ Medium   │ Low         │")
    print("   │ Polling     │ ~1000ms  │ High     │ Very Low    │")
    print("   └─────────────┴──────────┴──────────┴─────────────┘")

if __name__ == "__main__":
    import uuid  # Add missing import
    asyncio.run(demo_realtime_communication())
