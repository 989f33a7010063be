#!/usr/bin/env bash
# octowiz: clone the Tentacle on app-dev-01 for Octopus Cloud
#
# What it does: creates a SECOND Tentacle instance on this machine for each registration below,
# gives it its own certificate and connects it to the Octopus Cloud instance
# https://octowiz-demo.octopus.app (space 'Default'):
#   OctopusCloud-polling-target: deployment target 'polling-target', polling polling.octowiz-demo.octopus.app on port 443
# The original instance 'Tentacle' is untouched: it keeps serving your Octopus Server.
# octowiz runs it through the Octopus Server's script console; it holds no API key: octowiz
# registers each instance on Octopus Cloud afterwards from the report printed at the end.
# It stops at the first command that fails, and is safe to run again: what an earlier run did
# is kept (the instance, its certificate, its trust of Octopus Cloud, its registration).
set -euo pipefail

instances="$(/opt/octopus/tentacle/Tentacle list-instances --format 'json')"
if [[ "$instances" == *'"InstanceName": "OctopusCloud-polling-target"'* ]]; then
    echo 'The Tentacle instance OctopusCloud-polling-target already exists; keeping it'
else
    echo 'Creating the Tentacle instance OctopusCloud-polling-target'
    /opt/octopus/tentacle/Tentacle create-instance --instance 'OctopusCloud-polling-target' --config '/etc/octopus/OctopusCloud-polling-target/tentacle-OctopusCloud-polling-target.config'
fi
echo 'Giving OctopusCloud-polling-target its own certificate'
/opt/octopus/tentacle/Tentacle new-certificate --instance 'OctopusCloud-polling-target' --if-blank
configuration="$(/opt/octopus/tentacle/Tentacle show-configuration --instance 'OctopusCloud-polling-target')"
if [[ "$configuration" == *'"Thumbprint": "77C14CD01A123FB9803F1F7BB3DCC2394CE96434"'* ]]; then
    echo 'OctopusCloud-polling-target already trusts Octopus Cloud; keeping that trust and its polling subscription'
else
    echo 'Clearing the trusted servers of OctopusCloud-polling-target'
    /opt/octopus/tentacle/Tentacle configure --instance 'OctopusCloud-polling-target' --reset-trust
fi
echo 'Configuring OctopusCloud-polling-target to poll'
/opt/octopus/tentacle/Tentacle configure --instance 'OctopusCloud-polling-target' --app '/home/Octopus/OctopusCloud-polling-target/Applications' --noListen 'True'
echo 'Trusting the Octopus Cloud certificate in OctopusCloud-polling-target'
/opt/octopus/tentacle/Tentacle configure --instance 'OctopusCloud-polling-target' --trust '77C14CD01A123FB9803F1F7BB3DCC2394CE96434'
echo 'Pointing OctopusCloud-polling-target at polling.octowiz-demo.octopus.app:443'
/opt/octopus/tentacle/Tentacle server-comms --instance 'OctopusCloud-polling-target' --thumbprint '77C14CD01A123FB9803F1F7BB3DCC2394CE96434' --style 'TentacleActive' --host 'polling.octowiz-demo.octopus.app' --port '443'
echo 'Installing and starting the service of OctopusCloud-polling-target'
/opt/octopus/tentacle/Tentacle service --instance 'OctopusCloud-polling-target' --install --start

echo 'OCTOWIZ-CLONE-BEGIN OctopusCloud-polling-target'
/opt/octopus/tentacle/Tentacle show-thumbprint --instance 'OctopusCloud-polling-target' --format json
echo
/opt/octopus/tentacle/Tentacle show-configuration --instance 'OctopusCloud-polling-target'
echo
echo 'OCTOWIZ-CLONE-END OctopusCloud-polling-target'

echo 'Done: 1 Tentacle instance ready for Octopus Cloud; the original instance is unchanged.'
