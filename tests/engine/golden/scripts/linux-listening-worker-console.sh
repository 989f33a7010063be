#!/usr/bin/env bash
# octowiz: clone the Tentacle on web01.corp.local for Octopus Cloud
#
# What it does: creates a SECOND Tentacle instance on this machine for each registration below,
# gives it its own certificate and connects it to the Octopus Cloud instance
# https://octowiz-demo.octopus.app (space 'Default'):
#   OctopusCloudWorker-listening-worker: worker 'listening-worker', listening on port 10935, reached at web01.example.com
# The original instance 'Tentacle' is untouched: it keeps serving your Octopus Server.
# octowiz runs it through the Octopus Server's script console; it holds no API key: octowiz
# registers each instance on Octopus Cloud afterwards from the report printed at the end.
# It stops at the first command that fails, and is safe to run again: what an earlier run did
# is kept (the instance, its certificate, its trust of Octopus Cloud, its registration).
set -euo pipefail

instances="$(/opt/octopus/tentacle/Tentacle list-instances --format 'json')"
if [[ "$instances" == *'"InstanceName": "OctopusCloudWorker-listening-worker"'* ]]; then
    echo 'The Tentacle instance OctopusCloudWorker-listening-worker already exists; keeping it'
else
    echo 'Creating the Tentacle instance OctopusCloudWorker-listening-worker'
    /opt/octopus/tentacle/Tentacle create-instance --instance 'OctopusCloudWorker-listening-worker' --config '/etc/octopus/OctopusCloudWorker-listening-worker/tentacle-OctopusCloudWorker-listening-worker.config'
fi
echo 'Giving OctopusCloudWorker-listening-worker its own certificate'
/opt/octopus/tentacle/Tentacle new-certificate --instance 'OctopusCloudWorker-listening-worker' --if-blank
configuration="$(/opt/octopus/tentacle/Tentacle show-configuration --instance 'OctopusCloudWorker-listening-worker')"
if [[ "$configuration" == *'"Thumbprint": "77C14CD01A123FB9803F1F7BB3DCC2394CE96434"'* ]]; then
    echo 'OctopusCloudWorker-listening-worker already trusts Octopus Cloud; keeping that trust'
else
    echo 'Clearing the trusted servers of OctopusCloudWorker-listening-worker'
    /opt/octopus/tentacle/Tentacle configure --instance 'OctopusCloudWorker-listening-worker' --reset-trust
fi
echo 'Configuring OctopusCloudWorker-listening-worker to listen on port 10935'
/opt/octopus/tentacle/Tentacle configure --instance 'OctopusCloudWorker-listening-worker' --app '/home/Octopus/OctopusCloudWorker-listening-worker/Applications' --port '10935' --noListen 'False'
echo 'Note: allow TCP port 10935 inbound from Octopus Cloud in this host'\''s firewall; this script does not change the firewall.'
echo 'Trusting the Octopus Cloud certificate in OctopusCloudWorker-listening-worker'
/opt/octopus/tentacle/Tentacle configure --instance 'OctopusCloudWorker-listening-worker' --trust '77C14CD01A123FB9803F1F7BB3DCC2394CE96434'
echo 'Installing and starting the service of OctopusCloudWorker-listening-worker'
/opt/octopus/tentacle/Tentacle service --instance 'OctopusCloudWorker-listening-worker' --install --start

echo 'OCTOWIZ-CLONE-BEGIN OctopusCloudWorker-listening-worker'
/opt/octopus/tentacle/Tentacle show-thumbprint --instance 'OctopusCloudWorker-listening-worker' --format json
echo
/opt/octopus/tentacle/Tentacle show-configuration --instance 'OctopusCloudWorker-listening-worker'
echo
echo 'OCTOWIZ-CLONE-END OctopusCloudWorker-listening-worker'

echo 'Done: 1 Tentacle instance ready for Octopus Cloud; the original instance is unchanged.'
