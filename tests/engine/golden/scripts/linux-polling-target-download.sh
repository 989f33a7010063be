#!/usr/bin/env bash
# octowiz: clone the Tentacle on web01.corp.local for Octopus Cloud
#
# What it does: creates a SECOND Tentacle instance on this machine for each registration below,
# gives it its own certificate and connects it to the Octopus Cloud instance
# https://octowiz-demo.octopus.app (space 'Default'):
#   OctopusCloud-polling-target: deployment target 'polling-target', polling octowiz-demo.octopus.app on port 10943
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
if [[ "$configuration" == *'"Thumbprint": "77C14CD01A123FB9803F1F7BB3DCC2394CE96434"'* ]]; then
    echo 'OctopusCloud-polling-target is already registered with Octopus Cloud (it trusts Cloud'\''s certificate); skipping register-with'
else
    echo 'Registering OctopusCloud-polling-target with Octopus Cloud as the deployment target polling-target'
    /opt/octopus/tentacle/Tentacle register-with --instance 'OctopusCloud-polling-target' --server 'https://octowiz-demo.octopus.app' --apiKey "$OCTOPUS_CLOUD_API_KEY" --space 'Default' --name 'polling-target' --environment 'Production' --role 'web-server' --role 'app-server' --tenant 'Contoso' --tenanttag 'Customer Tier/Gold' --tenanted-deployment-participation 'TenantedOrUntenanted' --policy 'Default Machine Policy' --comms-style 'TentacleActive' --server-comms-port '10943'
fi
echo 'Installing and starting the service of OctopusCloud-polling-target'
/opt/octopus/tentacle/Tentacle service --instance 'OctopusCloud-polling-target' --install --start

echo 'Done: 1 Tentacle instance registered with Octopus Cloud; the original instance is unchanged.'
