#!/usr/bin/env bash
# octowiz: clone the Tentacle on web01.corp.local for Octopus Cloud
#
# What it does: creates a SECOND Tentacle instance on this machine for each registration below,
# gives it its own certificate and connects it to the Octopus Cloud instance
# https://octowiz-demo.octopus.app (space 'Default'):
#   OctopusCloudWorker-polling-worker: worker 'polling-worker', polling octowiz-demo.octopus.app on port 10943
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
if [[ "$instances" == *'"InstanceName": "OctopusCloudWorker-polling-worker"'* ]]; then
    echo 'The Tentacle instance OctopusCloudWorker-polling-worker already exists; keeping it'
else
    echo 'Creating the Tentacle instance OctopusCloudWorker-polling-worker'
    /opt/octopus/tentacle/Tentacle create-instance --instance 'OctopusCloudWorker-polling-worker' --config '/etc/octopus/OctopusCloudWorker-polling-worker/tentacle-OctopusCloudWorker-polling-worker.config'
fi
echo 'Giving OctopusCloudWorker-polling-worker its own certificate'
/opt/octopus/tentacle/Tentacle new-certificate --instance 'OctopusCloudWorker-polling-worker' --if-blank
configuration="$(/opt/octopus/tentacle/Tentacle show-configuration --instance 'OctopusCloudWorker-polling-worker')"
if [[ "$configuration" == *'"Thumbprint": "77C14CD01A123FB9803F1F7BB3DCC2394CE96434"'* ]]; then
    echo 'OctopusCloudWorker-polling-worker already trusts Octopus Cloud; keeping that trust and its polling subscription'
else
    echo 'Clearing the trusted servers of OctopusCloudWorker-polling-worker'
    /opt/octopus/tentacle/Tentacle configure --instance 'OctopusCloudWorker-polling-worker' --reset-trust
fi
echo 'Configuring OctopusCloudWorker-polling-worker to poll'
/opt/octopus/tentacle/Tentacle configure --instance 'OctopusCloudWorker-polling-worker' --app '/home/Octopus/OctopusCloudWorker-polling-worker/Applications' --noListen 'True'
if [[ "$configuration" == *'"Thumbprint": "77C14CD01A123FB9803F1F7BB3DCC2394CE96434"'* ]]; then
    echo 'OctopusCloudWorker-polling-worker is already registered with Octopus Cloud (it trusts Cloud'\''s certificate); skipping register-worker'
else
    echo 'Registering OctopusCloudWorker-polling-worker with Octopus Cloud as the worker polling-worker'
    /opt/octopus/tentacle/Tentacle register-worker --instance 'OctopusCloudWorker-polling-worker' --server 'https://octowiz-demo.octopus.app' --apiKey "$OCTOPUS_CLOUD_API_KEY" --space 'Default' --name 'polling-worker' --workerpool 'Windows Workers' --policy 'Default Machine Policy' --comms-style 'TentacleActive' --server-comms-port '10943'
fi
echo 'Installing and starting the service of OctopusCloudWorker-polling-worker'
/opt/octopus/tentacle/Tentacle service --instance 'OctopusCloudWorker-polling-worker' --install --start

echo 'Done: 1 Tentacle instance registered with Octopus Cloud; the original instance is unchanged.'
