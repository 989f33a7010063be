# octowiz: clone the Tentacle on web01.corp.local for Octopus Cloud
#
# What it does: creates a SECOND Tentacle instance on this machine for each registration below,
# gives it its own certificate and connects it to the Octopus Cloud instance
# https://octowiz-demo.octopus.app (space 'Default'):
#   OctopusCloudWorker-polling-worker: worker 'polling-worker', polling octowiz-demo.octopus.app on port 10943
# The original instance 'Tentacle' is untouched: it keeps serving your Octopus Server.
# Run it on web01.corp.local as an administrator.
# The Octopus Cloud API key is read from the environment variable OCTOPUS_CLOUD_API_KEY, or asked
# for when that is unset; it is never written to disk.
# It stops at the first command that fails, and is safe to run again: what an earlier run did
# is kept (the instance, its certificate, its trust of Octopus Cloud, its registration).
$ErrorActionPreference = 'Stop'

$ApiKey = $env:OCTOPUS_CLOUD_API_KEY
if (-not $ApiKey) {
    $SecureKey = Read-Host -AsSecureString 'Octopus Cloud API key'
    $ApiKey = [System.Net.NetworkCredential]::new('', $SecureKey).Password
}

$Instances = & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" list-instances --format 'json' --console
if ($LASTEXITCODE -ne 0) { Write-Host 'list-instances failed for OctopusCloudWorker-polling-worker.'; exit $LASTEXITCODE }
if ($Instances -like '*"InstanceName": "OctopusCloudWorker-polling-worker"*') {
    Write-Host 'The Tentacle instance OctopusCloudWorker-polling-worker already exists; keeping it'
} else {
    Write-Host 'Creating the Tentacle instance OctopusCloudWorker-polling-worker'
    & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" create-instance --instance 'OctopusCloudWorker-polling-worker' --config 'C:\Octopus\OctopusCloudWorker-polling-worker\Tentacle.config' --home 'C:\Octopus\OctopusCloudWorker-polling-worker' --console
    if ($LASTEXITCODE -ne 0) { Write-Host 'create-instance failed for OctopusCloudWorker-polling-worker.'; exit $LASTEXITCODE }
}
Write-Host 'Giving OctopusCloudWorker-polling-worker its own certificate'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" new-certificate --instance 'OctopusCloudWorker-polling-worker' --if-blank --console
if ($LASTEXITCODE -ne 0) { Write-Host 'new-certificate failed for OctopusCloudWorker-polling-worker.'; exit $LASTEXITCODE }
$Configuration = & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" show-configuration --instance 'OctopusCloudWorker-polling-worker' --console
if ($LASTEXITCODE -ne 0) { Write-Host 'show-configuration failed for OctopusCloudWorker-polling-worker.'; exit $LASTEXITCODE }
if ($Configuration -like '*"Thumbprint": "77C14CD01A123FB9803F1F7BB3DCC2394CE96434"*') {
    Write-Host 'OctopusCloudWorker-polling-worker already trusts Octopus Cloud; keeping that trust and its polling subscription'
} else {
    Write-Host 'Clearing the trusted servers of OctopusCloudWorker-polling-worker'
    & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" configure --instance 'OctopusCloudWorker-polling-worker' --reset-trust --console
    if ($LASTEXITCODE -ne 0) { Write-Host 'configure failed for OctopusCloudWorker-polling-worker.'; exit $LASTEXITCODE }
}
Write-Host 'Configuring OctopusCloudWorker-polling-worker to poll'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" configure --instance 'OctopusCloudWorker-polling-worker' --app 'C:\Octopus\OctopusCloudWorker-polling-worker\Applications' --noListen 'True' --console
if ($LASTEXITCODE -ne 0) { Write-Host 'configure failed for OctopusCloudWorker-polling-worker.'; exit $LASTEXITCODE }
if ($Configuration -like '*"Thumbprint": "77C14CD01A123FB9803F1F7BB3DCC2394CE96434"*') {
    Write-Host 'OctopusCloudWorker-polling-worker is already registered with Octopus Cloud (it trusts Cloud''s certificate); skipping register-worker'
} else {
    Write-Host 'Registering OctopusCloudWorker-polling-worker with Octopus Cloud as the worker polling-worker'
    & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" register-worker --instance 'OctopusCloudWorker-polling-worker' --server 'https://octowiz-demo.octopus.app' --apiKey $ApiKey --space 'Default' --name 'polling-worker' --workerpool 'Windows Workers' --policy 'Default Machine Policy' --comms-style 'TentacleActive' --server-comms-port '10943' --console
    if ($LASTEXITCODE -ne 0) { Write-Host 'register-worker failed for OctopusCloudWorker-polling-worker.'; exit $LASTEXITCODE }
}
Write-Host 'Installing and starting the service of OctopusCloudWorker-polling-worker'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" service --instance 'OctopusCloudWorker-polling-worker' --install --start --console
if ($LASTEXITCODE -ne 0) { Write-Host 'service failed for OctopusCloudWorker-polling-worker.'; exit $LASTEXITCODE }

Write-Host 'Done: 1 Tentacle instance registered with Octopus Cloud; the original instance is unchanged.'
