# Copied UNCHANGED from the seed document ../shared/seed/realtime-communication.md,
# section "Server-Sent Events (SSE) Implementation" (its only Python code block), byte for byte below the line of dashes.
# tests/seed/run_seed_clients.py uses SSEClient from it against a live Moonwire hub and
# checks that this copy still matches the seed document when the document is present.
# Do not edit the code: the point is that the seed's own clients work against Moonwire as they are.
# ----------------------------------------------------------------------------------------------
import asyncio
import json
import time
from typing import Dict, Any, List, Optional, AsyncIterator
from dataclasses import dataclass
from aiohttp import web, ClientSession
import aiohttp_sse

@dataclass
class SSEEvent:
    """Server-Sent Event"""
    event_type: str
    data: Any
    event_id: Optional[str] = None
    retry: Optional[int] = None
    
    def format(self) -> str:
        """Format as SSE string"""
        lines = []
        
        if self.event_id:
            lines.append(f"id: {self.event_id}")
        
        if self.event_type:
            lines.append(f"event: {self.event_type}")
        
        if self.retry:
            lines.append(f"retry: {self.retry}")
        
        # Handle data
        if isinstance(self.data, (dict, list)):
            data_str = json.dumps(self.data)
        else:
            data_str = str(self.data)
        
        for line in data_str.split('\n'):
            lines.append(f"data: {line}")
        
        lines.append("")  # Empty line to end event
        return "\n".join(lines)

class SSEBroadcaster:
    """SSE broadcaster for managing multiple connections"""
    
    def __init__(self):
        self.connections: Dict[str, List] = {}  # client_id -> [response, last_event_id]
        self.event_history: List[SSEEvent] = []
        self.max_history = 100
        
        self.metrics = {
            'total_connections': 0,
            'active_connections': 0,
            'events_sent': 0,
            'broadcasts': 0
        }
    
    async def add_connection(self, client_id: str, response, last_event_id: Optional[str] = None):
        """Add SSE connection"""
        self.connections[client_id] = [response, last_event_id]
        self.metrics['total_connections'] += 1
        self.metrics['active_connections'] += 1
        
        # Send missed events if client provides last_event_id
        if last_event_id:
            await self._send_missed_events(client_id, last_event_id)
        
        print(f"SSE client {client_id} connected")
    
    def remove_connection(self, client_id: str):
        """Remove SSE connection"""
        if client_id in self.connections:
            del self.connections[client_id]
            self.metrics['active_connections'] -= 1
            print(f"SSE client {client_id} disconnected")
    
    async def broadcast(self, event: SSEEvent):
        """Broadcast event to all connections"""
        # Add to history
        self.event_history.append(event)
        if len(self.event_history) > self.max_history:
            self.event_history.pop(0)
        
        # Send to all connections
        disconnected = []
        
        for client_id, (response, _) in self.connections.items():
            try:
                await response.write(event.format().encode())
                await response.write(b"\n")
                self.metrics['events_sent'] += 1
            except Exception as e:
                print(f"Error sending to {client_id}: {e}")
                disconnected.append(client_id)
        
        # Clean up disconnected clients
        for client_id in disconnected:
            self.remove_connection(client_id)
        
        self.metrics['broadcasts'] += 1
    
    async def _send_missed_events(self, client_id: str, last_event_id: str):
        """Send events missed since last_event_id"""
        if client_id not in self.connections:
            return
        
        response, _ = self.connections[client_id]
        
        # Find events after last_event_id
        start_index = 0
        for i, event in enumerate(self.event_history):
            if event.event_id == last_event_id:
                start_index = i + 1
                break
        
        # Send missed events
        for event in self.event_history[start_index:]:
            try:
                await response.write(event.format().encode())
                await response.write(b"\n")
            except Exception as e:
                print(f"Error sending missed event to {client_id}: {e}")
                self.remove_connection(client_id)
                break
    
    def get_metrics(self) -> Dict[str, Any]:
        """Get broadcaster metrics"""
        return self.metrics.copy()

class SSEServer:
    """SSE server implementation"""
    
    def __init__(self, host: str = "localhost", port: int = 8080):
        self.host = host
        self.port = port
        self.app = web.Application()
        self.broadcaster = SSEBroadcaster()
        
        # Setup routes
        self.app.router.add_get('/events', self._handle_sse)
        self.app.router.add_post('/trigger', self._handle_trigger)
        self.app.router.add_get('/metrics', self._handle_metrics)
        
        # CORS headers
        self.app.middlewares.append(self._cors_handler)
    
    async def _cors_handler(self, request, handler):
        """CORS middleware"""
        response = await handler(request)
        response.headers['Access-Control-Allow-Origin'] = '*'
        response.headers['Access-Control-Allow-Methods'] = 'GET, POST, OPTIONS'
        response.headers['Access-Control-Allow-Headers'] = 'Content-Type, Last-Event-ID'
        return response
    
    async def _handle_sse(self, request):
        """Handle SSE connection"""
        client_id = request.query.get('client_id', str(uuid.uuid4()))
        last_event_id = request.headers.get('Last-Event-ID')
        
        # Create SSE response
        response = web.StreamResponse(
            status=200,
            headers={
                'Content-Type': 'text/event-stream',
                'Cache-Control': 'no-cache',
                'Connection': 'keep-alive',
            }
        )
        
        await response.prepare(request)
        
        # Add to broadcaster
        await self.broadcaster.add_connection(client_id, response, last_event_id)
        
        try:
            # Keep connection alive
            while True:
                await asyncio.sleep(1)
                
                # Send heartbeat every 30 seconds
                if int(time.time()) % 30 == 0:
                    heartbeat = SSEEvent(
                        event_type="heartbeat",
                        data={"timestamp": time.time()},
                        event_id=str(uuid.uuid4())
                    )
                    await response.write(heartbeat.format().encode())
                    await response.write(b"\n")
        
        except asyncio.CancelledError:
            pass
        except Exception as e:
            print(f"SSE connection error: {e}")
        finally:
            self.broadcaster.remove_connection(client_id)
        
        return response
    
    async def _handle_trigger(self, request):
        """Handle event trigger"""
        data = await request.json()
        
        event = SSEEvent(
            event_type=data.get('event_type', 'message'),
            data=data.get('data', {}),
            event_id=str(uuid.uuid4())
        )
        
        await self.broadcaster.broadcast(event)
        
        return web.json_response({'status': 'sent'})
    
    async def _handle_metrics(self, request):
        """Handle metrics request"""
        metrics = self.broadcaster.get_metrics()
        return web.json_response(metrics)
    
    async def start_server(self):
        """Start SSE server"""
        runner = web.AppRunner(self.app)
        await runner.setup()
        
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        
        print(f"SSE server started on http://{self.host}:{self.port}")
        print(f"Connect to: http://{self.host}:{self.port}/events")

class SSEClient:
    """SSE client implementation"""
    
    def __init__(self, url: str, client_id: Optional[str] = None):
        self.url = url
        self.client_id = client_id or str(uuid.uuid4())
        self.last_event_id: Optional[str] = None
        self.connected = False
        
        # Event handlers
        self.event_handlers: Dict[str, Callable] = {}
        
        # Metrics
        self.metrics = {
            'events_received': 0,
            'connection_attempts': 0,
            'reconnect_count': 0
        }
    
    def add_event_handler(self, event_type: str, handler: Callable):
        """Add event handler"""
        self.event_handlers[event_type] = handler
    
    async def connect(self):
        """Connect to SSE server"""
        self.metrics['connection_attempts'] += 1
        
        headers = {}
        if self.last_event_id:
            headers['Last-Event-ID'] = self.last_event_id
        
        params = {'client_id': self.client_id}
        
        async with ClientSession() as session:
            try:
                async with session.get(self.url, headers=headers, params=params) as response:
                    self.connected = True
                    print(f"SSE client {self.client_id} connected")
                    
                    # Read events
                    async for line in response.content:
                        line = line.decode().strip()
                        
                        if not line:
                            continue
                        
                        await self._parse_sse_line(line)
                        
            except Exception as e:
                print(f"SSE connection error: {e}")
                self.connected = False
    
    async def _parse_sse_line(self, line: str):
        """Parse SSE line"""
        if line.startswith('id:'):
            self.last_event_id = line[3:].strip()
        
        elif line.startswith('event:'):
            event_type = line[6:].strip()
            
        elif line.startswith('data:'):
            data_str = line[5:].strip()
            
            try:
                data = json.loads(data_str)
            except:
                data = data_str
            
            self.metrics['events_received'] += 1
            
            # Handle event
            if hasattr(self, '_current_event_type'):
                event_type = getattr(self, '_current_event_type', 'message')
                
                if event_type in self.event_handlers:
                    await self.event_handlers[event_type](data)
                else:
                    print(f"[{event_type}] {data}")
    
    def get_metrics(self) -> Dict[str, Any]:
        """Get client metrics"""
        return self.metrics.copy()
