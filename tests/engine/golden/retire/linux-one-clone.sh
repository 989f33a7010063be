#!/usr/bin/env bash
# octowiz: delete the old Tentacle instance on app-dev-01 (retiring the Octopus Server)
#
# What it does: stops and uninstalls the service of the instance 'Tentacle', the one your Octopus
# Server talks to, then deletes that instance (Tentacle's own order: service --stop --uninstall,
# then delete-instance). Its configuration and home folders stay on disk.
# The Octopus Cloud clone instance(s) stay untouched: OctopusCloud-app-dev-01.
# It first checks that every clone is on this machine, and stops without changing anything if
# one is missing. Safe to run again: once the old instance is gone it does nothing.
# THIS CANNOT BE UNDONE: a deleted instance is not restored; to serve the Server again the
# machine needs a new Tentacle instance registered with it.
# Run it on app-dev-01 as root.
set -euo pipefail

instances="$(/opt/octopus/tentacle/Tentacle list-instances --format json)"
if [[ "$instances" == *'"InstanceName": "OctopusCloud-app-dev-01"'* ]]; then
    echo 'The Cloud clone OctopusCloud-app-dev-01 is on this machine; it stays'
else
    echo 'The Cloud clone OctopusCloud-app-dev-01 is not on this machine: nothing was changed. Run this script on app-dev-01.'
    exit 1
fi
if [[ "$instances" == *'"InstanceName": "Tentacle"'* ]]; then
    echo 'Stopping and uninstalling the service of the old instance Tentacle'
    /opt/octopus/tentacle/Tentacle service --instance 'Tentacle' --stop --uninstall
    echo 'Deleting the old instance Tentacle'
    /opt/octopus/tentacle/Tentacle delete-instance --instance 'Tentacle'
else
    echo 'The old instance Tentacle is no longer listed; nothing to delete'
fi

echo 'Done: the old instance Tentacle is gone from app-dev-01; OctopusCloud-app-dev-01 still serves Octopus Cloud.'
