#!/usr/bin/env bash
# octowiz: clone the Tentacle on web01.corp.local for Octopus Cloud
#
# What it does: creates a SECOND Tentacle instance on this machine for each registration below,
# gives it its own certificate and connects it to the Octopus Cloud instance
# https://octowiz-demo.octopus.app (space 'Default'):
#   OctopusCloud-listening-target: deployment target 'listening-target', listening on port 10934, reached at web01.example.com
# The original instance 'Tentacle' is untouched: it keeps serving your Octopus Server.
# octowiz runs it through the Octopus Server's script console; it holds no API key: octowiz
# registers each instance on Octopus Cloud afterwards from the report printed at the end.
# It stops at the first command that fails, and is safe to run again: what an earlier run did
# is kept (the instance, its certificate, its trust of Octopus Cloud, its registration).
set -euo pipefail

instances="$(/opt/octopus/tentacle/Tentacle list-instances --format 'json')"
if [[ "$instances" == *'"InstanceName": "OctopusCloud-listening-target"'* ]]; then
    echo 'The Tentacle instance OctopusCloud-listening-target already exists; keeping it'
else
    echo 'Creating the Tentacle instance OctopusCloud-listening-target'
    /opt/octopus/tentacle/Tentacle create-instance --instance 'OctopusCloud-listening-target' --config '/etc/octopus/OctopusCloud-listening-target/tentacle-OctopusCloud-listening-target.config'
fi
echo 'Giving OctopusCloud-listening-target its own certificate'
/opt/octopus/tentacle/Tentacle new-certificate --instance 'OctopusCloud-listening-target' --if-blank
configuration="$(/opt/octopus/tentacle/Tentacle show-configuration --instance 'OctopusCloud-listening-target')"
if [[ "$configuration" == *'"Thumbprint": "77C14CD01A123FB9803F1F7BB3DCC2394CE96434"'* ]]; then
    echo 'OctopusCloud-listening-target already trusts Octopus Cloud; keeping that trust'
else
    echo 'Clearing the trusted servers of OctopusCloud-listening-target'
    /opt/octopus/tentacle/Tentacle configure --instance 'OctopusCloud-listening-target' --reset-trust
fi
echo 'Configuring OctopusCloud-listening-target to listen on port 10934'
/opt/octopus/tentacle/Tentacle configure --instance 'OctopusCloud-listening-target' --app '/home/Octopus/OctopusCloud-listening-target/Applications' --port '10934' --noListen 'False'
echo 'Note: allow TCP port 10934 inbound from Octopus Cloud in this host'\''s firewall; this script does not change the firewall.'
echo 'Trusting the Octopus Cloud certificate in OctopusCloud-listening-target'
/opt/octopus/tentacle/Tentacle configure --instance 'OctopusCloud-listening-target' --trust '77C14CD01A123FB9803F1F7BB3DCC2394CE96434'
echo 'Installing and starting the service of OctopusCloud-listening-target'
/opt/octopus/tentacle/Tentacle service --instance 'OctopusCloud-listening-target' --install --start

echo 'OCTOWIZ-CLONE-BEGIN OctopusCloud-listening-target'
/opt/octopus/tentacle/Tentacle show-thumbprint --instance 'OctopusCloud-listening-target' --format json
echo
/opt/octopus/tentacle/Tentacle show-configuration --instance 'OctopusCloud-listening-target'
echo
echo 'OCTOWIZ-CLONE-END OctopusCloud-listening-target'

echo 'Done: 1 Tentacle instance ready for Octopus Cloud; the original instance is unchanged.'
