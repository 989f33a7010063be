# octowiz: clone the Tentacle on web01.corp.local for Octopus Cloud
#
# What it does: creates a SECOND Tentacle instance on this machine for each registration below,
# gives it its own certificate and connects it to the Octopus Cloud instance
# https://octowiz-demo.octopus.app (space 'Default'):
#   OctopusCloud-listening-target: deployment target 'listening-target', listening on port 10934, reached at web01.example.com
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
if ($LASTEXITCODE -ne 0) { Write-Host 'list-instances failed for OctopusCloud-listening-target.'; exit $LASTEXITCODE }
if ($Instances -like '*"InstanceName": "OctopusCloud-listening-target"*') {
    Write-Host 'The Tentacle instance OctopusCloud-listening-target already exists; keeping it'
} else {
    Write-Host 'Creating the Tentacle instance OctopusCloud-listening-target'
    & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" create-instance --instance 'OctopusCloud-listening-target' --config 'C:\Octopus\OctopusCloud-listening-target\Tentacle.config' --home 'C:\Octopus\OctopusCloud-listening-target' --console
    if ($LASTEXITCODE -ne 0) { Write-Host 'create-instance failed for OctopusCloud-listening-target.'; exit $LASTEXITCODE }
}
Write-Host 'Giving OctopusCloud-listening-target its own certificate'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" new-certificate --instance 'OctopusCloud-listening-target' --if-blank --console
if ($LASTEXITCODE -ne 0) { Write-Host 'new-certificate failed for OctopusCloud-listening-target.'; exit $LASTEXITCODE }
$Configuration = & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" show-configuration --instance 'OctopusCloud-listening-target' --console
if ($LASTEXITCODE -ne 0) { Write-Host 'show-configuration failed for OctopusCloud-listening-target.'; exit $LASTEXITCODE }
if ($Configuration -like '*"Thumbprint": "77C14CD01A123FB9803F1F7BB3DCC2394CE96434"*') {
    Write-Host 'OctopusCloud-listening-target already trusts Octopus Cloud; keeping that trust'
} else {
    Write-Host 'Clearing the trusted servers of OctopusCloud-listening-target'
    & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" configure --instance 'OctopusCloud-listening-target' --reset-trust --console
    if ($LASTEXITCODE -ne 0) { Write-Host 'configure failed for OctopusCloud-listening-target.'; exit $LASTEXITCODE }
}
Write-Host 'Configuring OctopusCloud-listening-target to listen on port 10934'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" configure --instance 'OctopusCloud-listening-target' --app 'C:\Octopus\OctopusCloud-listening-target\Applications' --port '10934' --noListen 'False' --console
if ($LASTEXITCODE -ne 0) { Write-Host 'configure failed for OctopusCloud-listening-target.'; exit $LASTEXITCODE }
$null = & netsh advfirewall firewall show rule 'name=Octopus Deploy Tentacle OctopusCloud-listening-target'
if ($LASTEXITCODE -eq 0) {
    Write-Host 'The firewall rule for OctopusCloud-listening-target is already there'
} else {
    Write-Host 'Opening TCP port 10934 inbound in Windows Firewall'
    & netsh advfirewall firewall add rule 'name=Octopus Deploy Tentacle OctopusCloud-listening-target' dir=in action=allow protocol=TCP localport=10934
    if ($LASTEXITCODE -ne 0) { Write-Host 'The firewall rule for OctopusCloud-listening-target could not be added.'; exit $LASTEXITCODE }
}
if ($Configuration -like '*"Thumbprint": "77C14CD01A123FB9803F1F7BB3DCC2394CE96434"*') {
    Write-Host 'OctopusCloud-listening-target is already registered with Octopus Cloud (it trusts Cloud''s certificate); skipping register-with'
} else {
    Write-Host 'Registering OctopusCloud-listening-target with Octopus Cloud as the deployment target listening-target'
    & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" register-with --instance 'OctopusCloud-listening-target' --server 'https://octowiz-demo.octopus.app' --apiKey $ApiKey --space 'Default' --name 'listening-target' --environment 'Production' --role 'web-server' --role 'app-server' --tenant 'Contoso' --tenanttag 'Customer Tier/Gold' --tenanted-deployment-participation 'TenantedOrUntenanted' --policy 'Default Machine Policy' --comms-style 'TentaclePassive' --publicHostName 'web01.example.com' --console
    if ($LASTEXITCODE -ne 0) { Write-Host 'register-with failed for OctopusCloud-listening-target.'; exit $LASTEXITCODE }
}
Write-Host 'Installing and starting the service of OctopusCloud-listening-target'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" service --instance 'OctopusCloud-listening-target' --install --start --console
if ($LASTEXITCODE -ne 0) { Write-Host 'service failed for OctopusCloud-listening-target.'; exit $LASTEXITCODE }

Write-Host 'Done: 1 Tentacle instance registered with Octopus Cloud; the original instance is unchanged.'
