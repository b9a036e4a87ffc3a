"""The MQTT broker's security from the registry: password hashes, ACL, and `citydata broker sync`.

`passwords` hashes secrets as Mosquitto's password file holds them; `credentials` issues and
rotates MQTT credentials (the secret shown once, only its hash kept); `topics` says on which
topic each payload format carries a device's id; `acl` turns credentials, sensors and routes
into Mosquitto's ACL; `sync` writes both files and makes the running broker reload them.
"""
