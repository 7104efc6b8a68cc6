# Copied UNCHANGED from the seed document ../shared/seed/realtime-communication.md,
# section "WebSocket Implementation" (its only Python code block), byte for byte below the line of dashes.
# tests/seed/run_seed_clients.py uses WebSocketRealTimeClient (and RealTimeEvent, EventType) from it against a live Moonwire hub and
# checks that this copy still matches the seed document when the document is present.
# Do not edit the code: the point is that the seed's own clients work against Moonwire as they are.
# ----------------------------------------------------------------------------------------------
import asyncio
import websockets
import json
import time
import uuid
from typing import Dict, Any, Set, Optional, Callable, List
from dataclasses import dataclass, field
from enum import Enum
import logging

class EventType(Enum):
    USER_JOINED = "user_joined"
    USER_LEFT = "user_left"
    MESSAGE = "message"
    TYPING = "typing"
    NOTIFICATION = "notification"
    HEARTBEAT = "heartbeat"

@dataclass
class RealTimeEvent:
    """Real-time event structure"""
    event_id: str
    event_type: EventType
    user_id: str
    room_id: Optional[str]
    data: Dict[str, Any]
    timestamp: float
    
    def to_json(self) -> str:
        return json.dumps({
            'event_id': self.event_id,
            'event_type': self.event_type.value,
            'user_id': self.user_id,
            'room_id': self.room_id,
            'data': self.data,
            'timestamp': self.timestamp
        })
    
    @classmethod
    def from_json(cls, data: str) -> 'RealTimeEvent':
        parsed = json.loads(data)
        return cls(
            event_id=parsed['event_id'],
            event_type=EventType(parsed['event_type']),
            user_id=parsed['user_id'],
            room_id=parsed.get('room_id'),
            data=parsed['data'],
            timestamp=parsed['timestamp']
        )

@dataclass
class User:
    """Connected user"""
    user_id: str
    websocket: Any
    rooms: Set[str] = field(default_factory=set)
    last_seen: float = field(default_factory=time.time)
    metadata: Dict[str, Any] = field(default_factory=dict)

class Room:
    """Chat room or channel"""
    
    def __init__(self, room_id: str, name: str):
        self.room_id = room_id
        self.name = name
        self.users: Set[str] = set()
        self.created_at = time.time()
        self.message_history: List[RealTimeEvent] = []
        self.max_history = 100
    
    def add_user(self, user_id: str):
        """Add user to room"""
        self.users.add(user_id)
    
    def remove_user(self, user_id: str):
        """Remove user from room"""
        self.users.discard(user_id)
    
    def add_message(self, event: RealTimeEvent):
        """Add message to history"""
        self.message_history.append(event)
        if len(self.message_history) > self.max_history:
            self.message_history.pop(0)
    
    def get_recent_messages(self, limit: int = 20) -> List[RealTimeEvent]:
        """Get recent messages"""
        return self.message_history[-limit:]

class WebSocketRealTimeServer:
    """WebSocket server for real-time communication"""
    
    def __init__(self, host: str = "localhost", port: int = 8765):
        self.host = host
        self.port = port
        
        # State management
        self.users: Dict[str, User] = {}
        self.rooms: Dict[str, Room] = {}
        self.websocket_to_user: Dict[Any, str] = {}
        
        # Event handlers
        self.event_handlers: Dict[EventType, Callable] = {
            EventType.MESSAGE: self._handle_message,
            EventType.USER_JOINED: self._handle_user_joined,
            EventType.USER_LEFT: self._handle_user_left,
            EventType.TYPING: self._handle_typing,
            EventType.HEARTBEAT: self._handle_heartbeat,
        }
        
        # Metrics
        self.metrics = {
            'total_connections': 0,
            'active_connections': 0,
            'messages_sent': 0,
            'rooms_created': 0,
            'events_processed': 0
        }
        
        # Create default room
        self.create_room("general", "General Chat")
    
    def create_room(self, room_id: str, name: str) -> Room:
        """Create a new room"""
        room = Room(room_id, name)
        self.rooms[room_id] = room
        self.metrics['rooms_created'] += 1
        return room
    
    async def handle_connection(self, websocket, path):
        """Handle new WebSocket connection"""
        user_id = None
        
        try:
            # Wait for authentication message
            auth_message = await asyncio.wait_for(websocket.recv(), timeout=10.0)
            auth_data = json.loads(auth_message)
            
            user_id = auth_data.get('user_id')
            if not user_id:
                await websocket.send(json.dumps({'error': 'user_id required'}))
                return
            
            # Create user
            user = User(
                user_id=user_id,
                websocket=websocket,
                metadata=auth_data.get('metadata', {})
            )
            
            self.users[user_id] = user
            self.websocket_to_user[websocket] = user_id
            
            self.metrics['total_connections'] += 1
            self.metrics['active_connections'] += 1
            
            print(f"User {user_id} connected")
            
            # Send welcome message
            welcome_event = RealTimeEvent(
                event_id=str(uuid.uuid4()),
                event_type=EventType.NOTIFICATION,
                user_id="system",
                room_id=None,
                data={
                    'message': f'Welcome {user_id}!',
                    'rooms': list(self.rooms.keys())
                },
                timestamp=time.time()
            )
            await self._send_to_user(user_id, welcome_event)
            
            # Auto-join general room
            await self._join_room(user_id, "general")
            
            # Start heartbeat
            asyncio.create_task(self._heartbeat_loop(user_id))
            
            # Handle messages
            async for message in websocket:
                try:
                    event = RealTimeEvent.from_json(message)
                    await self._process_event(event)
                    self.metrics['events_processed'] += 1
                except Exception as e:
                    print(f"Error processing message: {e}")
        
        except websockets.exceptions.ConnectionClosed:
            print(f"Connection closed for user {user_id}")
        
        except asyncio.TimeoutError:
            print("Authentication timeout")
        
        except Exception as e:
            print(f"Connection error: {e}")
        
        finally:
            # Cleanup
            if user_id:
                await self._handle_user_disconnect(user_id)
    
    async def _process_event(self, event: RealTimeEvent):
        """Process incoming event"""
        handler = self.event_handlers.get(event.event_type)
        if handler:
            await handler(event)
        else:
            print(f"No handler for event type: {event.event_type}")
    
    async def _handle_message(self, event: RealTimeEvent):
        """Handle chat message"""
        room_id = event.room_id
        if not room_id or room_id not in self.rooms:
            return
        
        room = self.rooms[room_id]
        
        # Check if user is in room
        if event.user_id not in room.users:
            return
        
        # Add to room history
        room.add_message(event)
        
        # Broadcast to room users
        await self._broadcast_to_room(room_id, event, exclude=event.user_id)
        
        self.metrics['messages_sent'] += 1
    
    async def _handle_user_joined(self, event: RealTimeEvent):
        """Handle user joining room"""
        room_id = event.data.get('room_id')
        if room_id:
            await self._join_room(event.user_id, room_id)
    
    async def _handle_user_left(self, event: RealTimeEvent):
        """Handle user leaving room"""
        room_id = event.data.get('room_id')
        if room_id:
            await self._leave_room(event.user_id, room_id)
    
    async def _handle_typing(self, event: RealTimeEvent):
        """Handle typing indicator"""
        room_id = event.room_id
        if room_id and room_id in self.rooms:
            # Broadcast typing to room (exclude sender)
            await self._broadcast_to_room(room_id, event, exclude=event.user_id)
    
    async def _handle_heartbeat(self, event: RealTimeEvent):
        """Handle heartbeat"""
        if event.user_id in self.users:
            self.users[event.user_id].last_seen = time.time()
            
            # Send heartbeat response
            pong_event = RealTimeEvent(
                event_id=str(uuid.uuid4()),
                event_type=EventType.HEARTBEAT,
                user_id="system",
                room_id=None,
                data={'pong': True},
                timestamp=time.time()
            )
            await self._send_to_user(event.user_id, pong_event)
    
    async def _join_room(self, user_id: str, room_id: str):
        """Join user to room"""
        if user_id not in self.users or room_id not in self.rooms:
            return
        
        user = self.users[user_id]
        room = self.rooms[room_id]
        
        # Add user to room
        user.rooms.add(room_id)
        room.add_user(user_id)
        
        # Notify room about new user
        join_event = RealTimeEvent(
            event_id=str(uuid.uuid4()),
            event_type=EventType.USER_JOINED,
            user_id=user_id,
            room_id=room_id,
            data={
                'user_id': user_id,
                'room_name': room.name
            },
            timestamp=time.time()
        )
        
        await self._broadcast_to_room(room_id, join_event, exclude=user_id)
        
        # Send room history to user
        recent_messages = room.get_recent_messages(20)
        for message in recent_messages:
            await self._send_to_user(user_id, message)
    
    async def _leave_room(self, user_id: str, room_id: str):
        """Remove user from room"""
        if user_id not in self.users or room_id not in self.rooms:
            return
        
        user = self.users[user_id]
        room = self.rooms[room_id]
        
        # Remove user from room
        user.rooms.discard(room_id)
        room.remove_user(user_id)
        
        # Notify room about user leaving
        leave_event = RealTimeEvent(
            event_id=str(uuid.uuid4()),
            event_type=EventType.USER_LEFT,
            user_id=user_id,
            room_id=room_id,
            data={
                'user_id': user_id,
                'room_name': room.name
            },
            timestamp=time.time()
        )
        
        await self._broadcast_to_room(room_id, leave_event, exclude=user_id)
    
    async def _send_to_user(self, user_id: str, event: RealTimeEvent):
        """Send event to specific user"""
        if user_id in self.users:
            user = self.users[user_id]
            try:
                await user.websocket.send(event.to_json())
            except Exception as e:
                print(f"Error sending to user {user_id}: {e}")
                # User might be disconnected
                await self._handle_user_disconnect(user_id)
    
    async def _broadcast_to_room(self, room_id: str, event: RealTimeEvent, exclude: Optional[str] = None):
        """Broadcast event to all users in room"""
        if room_id not in self.rooms:
            return
        
        room = self.rooms[room_id]
        for user_id in room.users:
            if user_id != exclude:
                await self._send_to_user(user_id, event)
    
    async def _handle_user_disconnect(self, user_id: str):
        """Handle user disconnection"""
        if user_id not in self.users:
            return
        
        user = self.users[user_id]
        
        # Remove from all rooms
        for room_id in user.rooms.copy():
            await self._leave_room(user_id, room_id)
        
        # Cleanup
        if user.websocket in self.websocket_to_user:
            del self.websocket_to_user[user.websocket]
        del self.users[user_id]
        
        self.metrics['active_connections'] -= 1
        print(f"User {user_id} disconnected")
    
    async def _heartbeat_loop(self, user_id: str):
        """Heartbeat loop for user"""
        while user_id in self.users:
            try:
                await asyncio.sleep(30)  # 30 second heartbeat
                
                if user_id in self.users:
                    user = self.users[user_id]
                    
                    # Check if user is still alive
                    if time.time() - user.last_seen > 60:  # 60 second timeout
                        print(f"User {user_id} timeout")
                        await self._handle_user_disconnect(user_id)
                        break
                        
            except Exception as e:
                print(f"Heartbeat error for {user_id}: {e}")
                break
    
    async def start_server(self):
        """Start WebSocket server"""
        print(f"Starting real-time server on {self.host}:{self.port}")
        await websockets.serve(self.handle_connection, self.host, self.port)
    
    def get_metrics(self) -> Dict[str, Any]:
        """Get server metrics"""
        return {
            **self.metrics,
            'active_rooms': len(self.rooms),
            'room_stats': {
                room_id: len(room.users)
                for room_id, room in self.rooms.items()
            }
        }

class WebSocketRealTimeClient:
    """WebSocket client for real-time communication"""
    
    def __init__(self, uri: str, user_id: str):
        self.uri = uri
        self.user_id = user_id
        self.websocket = None
        self.connected = False
        
        # Event handlers
        self.event_handlers: Dict[EventType, Callable] = {}
        
        # Metrics
        self.metrics = {
            'messages_sent': 0,
            'messages_received': 0,
            'connection_attempts': 0,
            'reconnect_count': 0
        }
    
    async def connect(self, metadata: Dict[str, Any] = None):
        """Connect to WebSocket server"""
        try:
            self.metrics['connection_attempts'] += 1
            self.websocket = await websockets.connect(self.uri)
            
            # Send authentication
            auth_data = {
                'user_id': self.user_id,
                'metadata': metadata or {}
            }
            await self.websocket.send(json.dumps(auth_data))
            
            self.connected = True
            print(f"Connected as {self.user_id}")
            
            # Start message listener
            asyncio.create_task(self._listen_for_messages())
            
            # Start heartbeat
            asyncio.create_task(self._heartbeat_loop())
            
        except Exception as e:
            print(f"Connection failed: {e}")
            self.connected = False
    
    async def _listen_for_messages(self):
        """Listen for incoming messages"""
        try:
            async for message in self.websocket:
                try:
                    event = RealTimeEvent.from_json(message)
                    self.metrics['messages_received'] += 1
                    await self._handle_event(event)
                except Exception as e:
                    print(f"Error handling message: {e}")
        except websockets.exceptions.ConnectionClosed:
            print("Connection closed by server")
            self.connected = False
    
    async def _handle_event(self, event: RealTimeEvent):
        """Handle incoming event"""
        handler = self.event_handlers.get(event.event_type)
        if handler:
            await handler(event)
        else:
            # Default handler - just print
            print(f"[{event.event_type.value}] {event.user_id}: {event.data}")
    
    def add_event_handler(self, event_type: EventType, handler: Callable):
        """Add event handler"""
        self.event_handlers[event_type] = handler
    
    async def send_message(self, room_id: str, message: str):
        """Send chat message"""
        if not self.connected:
            raise RuntimeError("Not connected")
        
        event = RealTimeEvent(
            event_id=str(uuid.uuid4()),
            event_type=EventType.MESSAGE,
            user_id=self.user_id,
            room_id=room_id,
            data={'message': message},
            timestamp=time.time()
        )
        
        await self.websocket.send(event.to_json())
        self.metrics['messages_sent'] += 1
    
    async def join_room(self, room_id: str):
        """Join a room"""
        if not self.connected:
            raise RuntimeError("Not connected")
        
        event = RealTimeEvent(
            event_id=str(uuid.uuid4()),
            event_type=EventType.USER_JOINED,
            user_id=self.user_id,
            room_id=None,
            data={'room_id': room_id},
            timestamp=time.time()
        )
        
        await self.websocket.send(event.to_json())
    
    async def leave_room(self, room_id: str):
        """Leave a room"""
        if not self.connected:
            raise RuntimeError("Not connected")
        
        event = RealTimeEvent(
            event_id=str(uuid.uuid4()),
            event_type=EventType.USER_LEFT,
            user_id=self.user_id,
            room_id=None,
            data={'room_id': room_id},
            timestamp=time.time()
        )
        
        await self.websocket.send(event.to_json())
    
    async def send_typing(self, room_id: str, is_typing: bool):
        """Send typing indicator"""
        if not self.connected:
            raise RuntimeError("Not connected")
        
        event = RealTimeEvent(
            event_id=str(uuid.uuid4()),
            event_type=EventType.TYPING,
            user_id=self.user_id,
            room_id=room_id,
            data={'is_typing': is_typing},
            timestamp=time.time()
        )
        
        await self.websocket.send(event.to_json())
    
    async def _heartbeat_loop(self):
        """Send periodic heartbeats"""
        while self.connected:
            try:
                await asyncio.sleep(25)  # 25 second heartbeat
                
                if self.connected:
                    event = RealTimeEvent(
                        event_id=str(uuid.uuid4()),
                        event_type=EventType.HEARTBEAT,
                        user_id=self.user_id,
                        room_id=None,
                        data={'ping': True},
                        timestamp=time.time()
                    )
                    await self.websocket.send(event.to_json())
                    
            except Exception as e:
                print(f"Heartbeat error: {e}")
                break
    
    async def disconnect(self):
        """Disconnect from server"""
        if self.websocket:
            await self.websocket.close()
        self.connected = False
    
    def get_metrics(self) -> Dict[str, Any]:
        """Get client metrics"""
        return self.metrics.copy()
