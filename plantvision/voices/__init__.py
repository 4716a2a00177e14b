"""Voices: the plant's other ears on the cell. Read-only, never on the trip path.

    start.py        what `plantvision run` starts from the deployment's mqtt:, udp:, opcua:
    cell.py         status, camera state and events as plain data, from the loop's snapshots
    mqtt.py         the box's MQTT voice: retained status (last will: offline) and camera
                    state, every event QoS 1 and in order, through the spool
    spool.py        store-and-forward on disk (SQLite): bounded, ordered, survives restarts
    mqtt_client.py  the only paho-mqtt user: clients, credentials and TLS from the environment
    udp.py          one JSON datagram per decided frame, size-bounded, fire-and-forget
    opcua.py        a read-only OPC UA server (asyncua, the `opcua` extra)
    fleet.py        `plantvision fleet`: many boxes from the broker on one page (aiohttp)
    static/         the fleet page: plain HTML and one script

Each voice runs in threads of its own, reads the loop's published snapshots by reference
(plantvision/loop/publish.py) and the event tap on the log (plantvision/face/events.py), and
binds to loopback unless configured otherwise. None can reset, change outputs or edit zones.
"""
