#!/usr/bin/env bash
# octowiz: clone the Tentacle on web01.corp.local for Octopus Cloud
#
# What it does: creates a SECOND Tentacle instance on this machine for each registration below,
# gives it its own certificate and connects it to the Octopus Cloud instance
# https://octowiz-demo.octopus.app (space 'Default'):
#   OctopusCloud-listening-target: deployment target 'listening-target', listening on port 10934, reached at web01.example.com
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
if [[ "$configuration" == *'"Thumbprint": "77C14CD01A123FB9803F1F7BB3DCC2394CE96434"'* ]]; then
    echo 'OctopusCloud-listening-target is already registered with Octopus Cloud (it trusts Cloud'\''s certificate); skipping register-with'
else
    echo 'Registering OctopusCloud-listening-target with Octopus Cloud as the deployment target listening-target'
    /opt/octopus/tentacle/Tentacle register-with --instance 'OctopusCloud-listening-target' --server 'https://octowiz-demo.octopus.app' --apiKey "$OCTOPUS_CLOUD_API_KEY" --space 'Default' --name 'listening-target' --environment 'Production' --role 'web-server' --role 'app-server' --tenant 'Contoso' --tenanttag 'Customer Tier/Gold' --tenanted-deployment-participation 'TenantedOrUntenanted' --policy 'Default Machine Policy' --comms-style 'TentaclePassive' --publicHostName 'web01.example.com'
fi
echo 'Installing and starting the service of OctopusCloud-listening-target'
/opt/octopus/tentacle/Tentacle service --instance 'OctopusCloud-listening-target' --install --start

echo 'Done: 1 Tentacle instance registered with Octopus Cloud; the original instance is unchanged.'
