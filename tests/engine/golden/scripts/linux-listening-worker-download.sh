#!/usr/bin/env bash
# octowiz: clone the Tentacle on web01.corp.local for Octopus Cloud
#
# What it does: creates a SECOND Tentacle instance on this machine for each registration below,
# gives it its own certificate and connects it to the Octopus Cloud instance
# https://octowiz-demo.octopus.app (space 'Default'):
#   OctopusCloudWorker-listening-worker: worker 'listening-worker', listening on port 10935, reached at web01.example.com
# The original instance 'Tentacle' is untouched: it keeps serving your Octopus Server.
# Run it on web01.corp.local as root.
# The Octopus Cloud API key is read from the environment variable OCTOPUS_CLOUD_API_KEY, or asked
# for when that is unset; it is never written to disk.
# It stops at the first command that fails, and is safe to run again: what an earlier run did
# is kept (the instance, its certificate, its trust of Octopus Cloud, its registration).
set -euo pipefail

if [ -z "${OCTOPUS_CLOUD_API_KEY:-}" ]; then
    read -rs -p 'Octopus Cloud API key: ' OCTOPUS_CLOUD_API_KEY
    echo
fi

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
if [[ "$configuration" == *'"Thumbprint": "77C14CD01A123FB9803F1F7BB3DCC2394CE96434"'* ]]; then
    echo 'OctopusCloudWorker-listening-worker is already registered with Octopus Cloud (it trusts Cloud'\''s certificate); skipping register-worker'
else
    echo 'Registering OctopusCloudWorker-listening-worker with Octopus Cloud as the worker listening-worker'
    /opt/octopus/tentacle/Tentacle register-worker --instance 'OctopusCloudWorker-listening-worker' --server 'https://octowiz-demo.octopus.app' --apiKey "$OCTOPUS_CLOUD_API_KEY" --space 'Default' --name 'listening-worker' --workerpool 'Windows Workers' --policy 'Default Machine Policy' --comms-style 'TentaclePassive' --publicHostName 'web01.example.com'
fi
echo 'Installing and starting the service of OctopusCloudWorker-listening-worker'
/opt/octopus/tentacle/Tentacle service --instance 'OctopusCloudWorker-listening-worker' --install --start

echo 'Done: 1 Tentacle instance registered with Octopus Cloud; the original instance is unchanged.'
