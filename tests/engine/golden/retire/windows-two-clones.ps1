# octowiz: delete the old Tentacle instance on web01.corp.local (retiring the Octopus Server)
#
# What it does: stops and uninstalls the service of the instance 'Tentacle', the one your Octopus
# Server talks to, then deletes that instance (Tentacle's own order: service --stop --uninstall,
# then delete-instance). Its configuration and home folders stay on disk.
# The Octopus Cloud clone instance(s) stay untouched: OctopusCloud-web01, OctopusCloud-web-01-blue-b12acf.
# It first checks that every clone is on this machine, and stops without changing anything if
# one is missing. Safe to run again: once the old instance is gone it does nothing.
# THIS CANNOT BE UNDONE: a deleted instance is not restored; to serve the Server again the
# machine needs a new Tentacle instance registered with it.
# Run it on web01.corp.local as an administrator.
$ErrorActionPreference = 'Stop'

$Instances = & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" list-instances --format json --console
if ($LASTEXITCODE -ne 0) { Write-Host 'list-instances failed.'; exit $LASTEXITCODE }
if ($Instances -like '*"InstanceName": "OctopusCloud-web01"*') {
    Write-Host 'The Cloud clone OctopusCloud-web01 is on this machine; it stays'
} else {
    Write-Host 'The Cloud clone OctopusCloud-web01 is not on this machine: nothing was changed. Run this script on web01.corp.local.'
    exit 1
}
if ($Instances -like '*"InstanceName": "OctopusCloud-web-01-blue-b12acf"*') {
    Write-Host 'The Cloud clone OctopusCloud-web-01-blue-b12acf is on this machine; it stays'
} else {
    Write-Host 'The Cloud clone OctopusCloud-web-01-blue-b12acf is not on this machine: nothing was changed. Run this script on web01.corp.local.'
    exit 1
}
if ($Instances -like '*"InstanceName": "Tentacle"*') {
    Write-Host 'Stopping and uninstalling the service of the old instance Tentacle'
    & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" service --instance 'Tentacle' --stop --uninstall --console
    if ($LASTEXITCODE -ne 0) { Write-Host 'service --stop --uninstall failed for Tentacle.'; exit $LASTEXITCODE }
    Write-Host 'Deleting the old instance Tentacle'
    & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" delete-instance --instance 'Tentacle' --console
    if ($LASTEXITCODE -ne 0) { Write-Host 'delete-instance failed for Tentacle.'; exit $LASTEXITCODE }
} else {
    Write-Host 'The old instance Tentacle is no longer listed; nothing to delete'
}

Write-Host 'Done: the old instance Tentacle is gone from web01.corp.local; OctopusCloud-web01, OctopusCloud-web-01-blue-b12acf still serve Octopus Cloud.'
